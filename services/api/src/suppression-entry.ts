import { normalizeAddressText, parseMailbox } from '@outbound/address'
import { LIST_NAME } from './validate-email.js'

// Anything that reaches a stored reason, shown later in the API and the console.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const UNSAFE_REASON = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u
const MAX_REASON_CHARS = 500

/** An entry as the suppression routes and the CSV import take it, checked. */
export type SuppressionEntry = { address: string; reason: string | null; list: string | null }

/** What is wrong with an entry, naming the field and what is allowed. */
export type EntryProblem = { field: 'address' | 'reason' | 'list'; message: string }

/**
 * The comparison form of a suppressed address: one bare address, or `*@domain` for every address
 * at a domain (the domain checked as an address's would be); null when it is neither.
 */
export function suppressedAddress(input: string): string | null {
  const trimmed = input.trim()
  if (trimmed.startsWith('*@')) {
    // The domain in the form recipients' addresses are compared in (lower case, A-labels).
    const probe = parseMailbox(`postmaster${trimmed.slice(1)}`)
    if (probe === null || probe.name !== null) return null
    const normalized = normalizeAddressText(probe.address)
    return `*${normalized.slice(normalized.lastIndexOf('@'))}`
  }
  const mailbox = parseMailbox(trimmed)
  return mailbox === null || mailbox.name !== null ? null : normalizeAddressText(mailbox.address)
}

/** An entry checked: its comparison-form address and list, or the first problem. */
export function checkSuppressionEntry(
  address: string,
  reason: string | null,
  list: string | null,
): { ok: true; entry: SuppressionEntry } | { ok: false; problem: EntryProblem } {
  const normalized = suppressedAddress(address)
  if (normalized === null) {
    return {
      ok: false,
      problem: { field: 'address', message: 'address must be one bare email address or *@domain' },
    }
  }
  if (reason !== null && (reason.length > MAX_REASON_CHARS || UNSAFE_REASON.test(reason))) {
    return {
      ok: false,
      problem: {
        field: 'reason',
        message: `reason must be at most ${MAX_REASON_CHARS} characters, without control or bidirectional-control characters`,
      },
    }
  }
  if (list !== null && !LIST_NAME.test(list)) {
    return {
      ok: false,
      problem: {
        field: 'list',
        message: 'list must be empty (every mail) or 1 to 100 of A-Z, a-z, 0-9, ".", "_" and "-"',
      },
    }
  }
  return { ok: true, entry: { address: normalized, reason, list } }
}
