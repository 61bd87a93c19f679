import { normalizeAddressText } from '@outbound/address'
import { simulatedOutcome } from '@outbound/bounce'
import type { BounceStore } from '@outbound/store'
import { AppError } from './errors.js'
import type { ValidatedEmail } from './validate-email.js'

/**
 * DOMAIN.md §7 at the door, for many emails with one look-up: an email whose recipients are all
 * suppressed is refused (RECIPIENT_SUPPRESSED, naming them); otherwise its suppressed recipients
 * are marked and not mailed. Answers in the order of `emails`.
 */
export async function markSuppressed(
  bounces: BounceStore,
  emails: readonly ValidatedEmail[],
): Promise<(ValidatedEmail | AppError)[]> {
  // A sandbox key's simulator addresses always act out their outcome, even once a hard bounce
  // put one on the list: a CI run can be repeated (the worker's gate acts out `suppressed@`).
  const keys = emails.map((email) =>
    email.recipients.map((r) =>
      email.sandbox === true && simulatedOutcome(r.address) !== null
        ? ''
        : normalizeAddressText(r.address),
    ),
  )
  const suppressed = await bounces.suppressedAmong(
    [...new Set(keys.flat())].filter((key) => key !== ''),
  )
  return emails.map((email, i) => {
    const own = keys[i] ?? []
    if (!own.some((key) => suppressed.has(key))) return email
    if (own.every((key) => suppressed.has(key))) {
      return new AppError('RECIPIENT_SUPPRESSED', 'every recipient is on the suppression list', {
        recipients: email.recipients.map((r) => r.address),
      })
    }
    return {
      ...email,
      recipients: email.recipients.map((r, j) =>
        suppressed.has(own[j] ?? '')
          ? { ...r, status: 'suppressed', diagnostic: 'on the suppression list' }
          : r,
      ),
    }
  })
}
