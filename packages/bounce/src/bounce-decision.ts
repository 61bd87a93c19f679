import { classifyFailure, type Failure } from './classify.js'
import { shouldSuppress } from './suppression-rule.js'

export type BounceDecisionInput = {
  id: string
  messageId: string | null
  /** The recipient in comparison form. */
  address: string
  failure: Failure
  source: 'smtp' | 'dsn'
  at: Date
  /** The address's earlier bounces. */
  history: readonly { at: string; kind: 'hard' | 'soft' }[]
  /** The setting bounceSuppressAfter. */
  hardAfter: number
}

export type BounceDecision = {
  record: {
    id: string
    messageId: string | null
    recipient: string
    kind: 'hard' | 'soft'
    permanent: boolean
    reason: string
    source: 'smtp' | 'dsn'
    smtpCode: number | null
    enhancedCode: string | null
    diagnostic: string | null
    rule: string
    at: string
  }
  /** The suppression this bounce causes, if any. */
  suppression: { address: string; reason: string; source: 'bounce'; createdAt: string } | null
}

/** The bounce record of a failure, and whether it puts the address on the suppression list. */
export function bounceDecision(input: BounceDecisionInput): BounceDecision {
  const classification = classifyFailure(input.failure)
  const at = input.at.toISOString()
  const record = {
    id: input.id,
    messageId: input.messageId,
    recipient: input.address,
    kind: classification.kind,
    permanent: classification.permanent,
    reason: classification.reason,
    source: input.source,
    smtpCode: input.failure.smtpCode,
    enhancedCode: input.failure.enhancedCode,
    diagnostic: input.failure.text === '' ? null : input.failure.text,
    rule: classification.rule,
    at,
  }
  const history = [...input.history, { at, kind: classification.kind }].map((entry) => ({
    at: new Date(entry.at),
    kind: entry.kind,
  }))
  const verdict = shouldSuppress(history, input.at, input.hardAfter)
  return {
    record,
    suppression: verdict.suppress
      ? { address: input.address, reason: verdict.reason, source: 'bounce', createdAt: at }
      : null,
  }
}
