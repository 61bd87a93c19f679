import { normalizeAddressText } from '@outbound/address'
import { simulatedOutcome } from '@outbound/bounce'
import type { BounceStore, Suppression } from '@outbound/store'
import { AppError } from './errors.js'
import type { ValidatedEmail } from './validate-email.js'

/** What a suppressed recipient's record says: a list unsubscribe or the list for every mail. */
export function suppressedDiagnostic(suppression: Pick<Suppression, 'list'>): string {
  const list = suppression.list ?? null
  return list === null ? 'on the suppression list' : `unsubscribed from the list ${list}`
}

/**
 * DOMAIN.md §7 and §9 at the door, for many emails with one look-up: a recipient is suppressed by
 * an entry for its address or its domain, for every mail or (mass mail) for the email's list. An
 * email whose recipients are all suppressed for every mail is refused (RECIPIENT_SUPPRESSED,
 * naming them); otherwise its suppressed recipients are marked and not mailed. A list unsubscribe
 * does not refuse: §9 has the next message of the list recorded `suppressed` (the worker records
 * it when no recipient is left), so a newsletter run is not a string of errors. Answers in the
 * order of `emails`.
 */
export async function markSuppressed(
  bounces: BounceStore,
  emails: readonly ValidatedEmail[],
): Promise<(ValidatedEmail | AppError)[]> {
  const queries = emails.flatMap((email) =>
    email.recipients.map((r) => ({ address: normalizeAddressText(r.address), list: email.list })),
  )
  const found = await bounces.matchSuppressions(queries)
  let next = 0
  return emails.map((email) => {
    // A sandbox key's simulator addresses always act out their outcome, even once a hard bounce
    // put one on the list: a CI run can be repeated (the worker's gate acts out `suppressed@`).
    const own = email.recipients.map((r) => {
      const entry = found[next++] ?? null
      return email.sandbox === true && simulatedOutcome(r.address) !== null ? null : entry
    })
    if (own.every((entry) => entry === null)) return email
    if (own.every((entry) => entry !== null && (entry.list ?? null) === null)) {
      return new AppError('RECIPIENT_SUPPRESSED', 'every recipient is on the suppression list', {
        recipients: email.recipients.map((r) => r.address),
      })
    }
    return {
      ...email,
      recipients: email.recipients.map((r, j) => {
        const entry = own[j] ?? null
        return entry === null
          ? r
          : { ...r, status: 'suppressed' as const, diagnostic: suppressedDiagnostic(entry) }
      }),
    }
  })
}
