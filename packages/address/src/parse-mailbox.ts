import { domainToASCII } from 'node:url'
import emailAddresses from 'email-addresses'

/** One mailbox: the display name (null when absent) and the address as the caller wrote it. */
export type Mailbox = Readonly<{
  name: string | null
  address: string
  local: string
  domain: string
}>

// RFC 5321 §4.5.3.1: local part 64 octets, forward-path 256 octets including the angle brackets.
const MAX_LOCAL_OCTETS = 64
const MAX_ADDRESS_OCTETS = 254
const MAX_DISPLAY_NAME_CHARS = 256
// C0/C1 controls, DEL, and the invisible characters used to spoof addresses (zero-width, bidi).
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/u

/** The IDNA A-label of a domain, lower-cased; null when it is not a valid domain name. */
export function toAsciiDomain(domain: string): string | null {
  const ascii = domainToASCII(domain)
  if (ascii === '' || ascii.length > 253) return null
  const labels = ascii.split('.')
  const labelOk = (label: string) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label)
  return labels.every(labelOk) ? ascii : null
}

/**
 * Parses exactly one RFC 5322 mailbox (`"Name" <a@b.example>` or `a@b.example`, UTF-8 allowed per
 * RFC 6532); null for groups, lists, comments-only, domain literals, control characters and
 * over-long parts.
 */
export function parseMailbox(input: string): Mailbox | null {
  if (FORBIDDEN_CHARS.test(input)) return null
  const parsed = emailAddresses.parseOneAddress({ input, rfc6532: true })
  if (parsed === null || parsed.type !== 'mailbox') return null
  const { local, domain, address } = parsed
  if (Buffer.byteLength(local) > MAX_LOCAL_OCTETS) return null
  if (Buffer.byteLength(address) > MAX_ADDRESS_OCTETS) return null
  if (toAsciiDomain(domain) === null) return null
  const name = parsed.name?.trim() ?? ''
  if (name.length > MAX_DISPLAY_NAME_CHARS) return null
  return { name: name === '' ? null : name, address, local, domain }
}

/**
 * The form of an address used for comparisons: domain lower-cased as its IDNA A-label, local part
 * lower-cased when it is ASCII and kept as written otherwise (DOMAIN.md §1).
 */
export function normalizeAddress(mailbox: Pick<Mailbox, 'local' | 'domain'>): string {
  const domain = toAsciiDomain(mailbox.domain) ?? mailbox.domain.toLowerCase()
  // eslint-disable-next-line no-control-regex -- the ASCII range is the point of the test
  const local = /^[\x00-\x7f]*$/.test(mailbox.local) ? mailbox.local.toLowerCase() : mailbox.local
  return `${local}@${domain}`
}

/** The comparison form of an address given as text (lower-cased as a whole when it does not parse). */
export function normalizeAddressText(address: string): string {
  const mailbox = parseMailbox(address)
  return mailbox === null ? address.trim().toLowerCase() : normalizeAddress(mailbox)
}

/** A mailbox as one header-safe string: `"Name" <a@b>` (quotes and backslashes escaped) or `a@b`. */
export function formatMailbox(mailbox: Pick<Mailbox, 'name' | 'address'>): string {
  if (mailbox.name === null) return mailbox.address
  return `"${mailbox.name.replace(/["\\]/g, '\\$&')}" <${mailbox.address}>`
}
