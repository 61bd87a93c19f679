import { randomUUID } from 'node:crypto'
import { normalizeAddressText } from '@outbound/address'
import { bounceDecision, type Failure } from '@outbound/bounce'
import type { BounceStore, Recipient } from '@outbound/store'

/**
 * Records a bounce for each recipient (source smtp) and puts the addresses the suppression rule
 * says so on the suppression list. Returns the addresses newly suppressed.
 */
export async function recordBounces(
  bounces: BounceStore,
  messageId: string,
  recipients: readonly Recipient[],
  failureOf: (recipient: Recipient) => Failure,
  settings: { bounceSuppressAfter: number },
  at: Date,
): Promise<string[]> {
  const suppressed: string[] = []
  for (const recipient of recipients) {
    const address = normalizeAddressText(recipient.address)
    const history = await bounces.bounceHistory(address)
    const decision = bounceDecision({
      id: `bnc_${randomUUID()}`,
      messageId,
      address,
      failure: failureOf(recipient),
      source: 'smtp',
      at,
      history,
      hardAfter: settings.bounceSuppressAfter,
    })
    await bounces.recordBounce(decision.record)
    if (decision.suppression !== null && (await bounces.addSuppression(decision.suppression)))
      suppressed.push(address)
  }
  return suppressed
}

/** The failure a recipient's recorded reply describes. */
export function failureOfRecipient(recipient: Recipient): Failure {
  return {
    smtpCode: recipient.smtpCode,
    enhancedCode: recipient.enhancedCode,
    text: recipient.diagnostic ?? '',
  }
}
