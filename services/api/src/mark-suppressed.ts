import { normalizeAddressText } from '@outbound/address'
import type { BounceStore } from '@outbound/store'
import { AppError } from './errors.js'
import type { ValidatedEmail } from './validate-email.js'

/**
 * DOMAIN.md §7 at the door: a request whose recipients are all suppressed is refused
 * (RECIPIENT_SUPPRESSED, naming them); otherwise the suppressed ones are marked and not mailed.
 */
export async function markSuppressed(
  bounces: BounceStore,
  email: ValidatedEmail,
): Promise<ValidatedEmail> {
  const keys = email.recipients.map((r) => normalizeAddressText(r.address))
  const suppressed = await bounces.suppressedAmong(keys)
  if (suppressed.size === 0) return email
  if (suppressed.size === new Set(keys).size) {
    throw new AppError('RECIPIENT_SUPPRESSED', 'every recipient is on the suppression list', {
      recipients: email.recipients.map((r) => r.address),
    })
  }
  return {
    ...email,
    recipients: email.recipients.map((r, i) =>
      suppressed.has(keys[i] ?? '')
        ? { ...r, status: 'suppressed', diagnostic: 'on the suppression list' }
        : r,
    ),
  }
}
