import type { Logger } from 'pino'
import { messageEvent } from '@outbound/jobs'
import { outcomeCounts } from './counts.js'
import { isWaiting, type Attempt, type DeliverDeps, type Verdict } from './types.js'

/**
 * How long an attempt that reached the point of no return gets to record the server's reply. Past
 * that it is taken to have died, and the message counts as handed over (it is never sent again).
 */
export const COMMIT_GRACE_MS = 30_000

const INTERRUPTED =
  'the attempt that handed this message over stopped before it recorded the reply; it is not sent again (the server most likely has it, unless the attempt died in the instant between the commit and the end of data)'

/**
 * Stage 1: takes the message for this attempt and reads it in the same step. A message that is
 * gone, final, or being handed over by another attempt ends here.
 */
export async function claim(
  messageId: string,
  token: string,
  deps: Pick<DeliverDeps, 'store' | 'now' | 'newEventId'>,
  log: Logger,
): Promise<{ kind: 'claimed'; attempt: Attempt } | Verdict> {
  const claimed = await deps.store.claimMessage(messageId, token, deps.now())
  switch (claimed.kind) {
    case 'claimed':
      return { kind: 'claimed', attempt: { message: claimed.message, token, log } }
    case 'missing':
      log.error('no record for this job; nothing to send')
      return { kind: 'done', result: { kind: 'skipped', reason: 'missing' } }
    case 'final':
      log.info({ status: claimed.status }, 'message already final; not sent again')
      return { kind: 'done', result: { kind: 'skipped', reason: claimed.status } }
    case 'committing': {
      const graceEnds = claimed.committedAt.getTime() + COMMIT_GRACE_MS
      if (deps.now().getTime() < graceEnds) {
        log.warn('another attempt is handing this message over; checking again later')
        return { kind: 'wait', until: new Date(graceEnds), retry: false }
      }
      const recipients = claimed.recipients.map((r) =>
        isWaiting(r)
          ? {
              ...r,
              status: 'sent' as const,
              smtpCode: null,
              enhancedCode: null,
              diagnostic: INTERRUPTED,
            }
          : r,
      )
      await deps.store.recordOutcome(
        messageId,
        claimed.token,
        {
          status: 'sent',
          sentAt: claimed.committedAt,
          smtpResponse: null,
          recipients,
          counts: outcomeCounts(claimed.recipients, recipients),
          event: { type: 'sent', detail: INTERRUPTED },
          webhookEvents: [
            messageEvent(
              deps.newEventId(),
              'email.sent',
              deps.now(),
              claimed.summary,
              'sent',
              recipients,
            ),
          ],
        },
        deps.now(),
      )
      log.warn('interrupted after the hand-over; counted as sent, not sent again')
      return { kind: 'done', result: { kind: 'sent' } }
    }
  }
}
