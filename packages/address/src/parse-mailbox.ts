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
const FORBIDDEN_CHARS =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u061c\ufeff]/u

// RFC 5322 §3.2.3 atext: the characters of a dot-atom besides the dots.
const ATEXT_LABEL = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/
// RFC 1035 / 5321 sizes: a label of 63 octets, a domain of 253 (255 with the root and lengths).
const MAX_LABEL_OCTETS = 63
const MAX_DOMAIN_OCTETS = 253
// RFC 952/1123 host names: letters, digits and inner hyphens.
const HOSTNAME_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * The IDNA A-label form of a mail domain, lower-cased; null when RFC 5322 refuses it. A mail domain
 * is a dot-atom (RFC 5322 §3.4.1) with UTF-8 allowed (RFC 6532): `unknown_domain.com` is valid, as
 * it is to DNS, Odoo and real MTAs. Labels that are not ASCII are converted to their A-label; one
 * that IDNA refuses makes the domain invalid (it could not be sent to). Domain literals are refused.
 */
export function toAsciiDomain(domain: string): string | null {
  const labels = domain.split('.')
  const ascii: string[] = []
  for (const label of labels) {
    // eslint-disable-next-line no-control-regex -- the ASCII range is the point of the test
    if (/^[\x00-\x7f]*$/.test(label)) {
      if (!ATEXT_LABEL.test(label)) return null
      ascii.push(label.toLowerCase())
      continue
    }
    const aLabel = domainToASCII(label)
    if (aLabel === '' || aLabel.includes('.') || !aLabel.startsWith('xn--')) return null
    ascii.push(aLabel)
  }
  const result = ascii.join('.')
  if (result.length > MAX_DOMAIN_OCTETS) return null
  return ascii.every((label) => label.length <= MAX_LABEL_OCTETS) ? result : null
}

/**
 * The IDNA A-label of a host name (an SMTP server to connect to), lower-cased; null when it is not
 * one by RFC 952/1123 (letters, digits, inner hyphens). Stricter than a mail domain on purpose.
 */
export function toAsciiHostname(host: string): string | null {
  const ascii = domainToASCII(host)
  if (ascii === '' || ascii.length > MAX_DOMAIN_OCTETS) return null
  return ascii.split('.').every((label) => HOSTNAME_LABEL.test(label)) ? ascii : null
}

// RFC 5322 dot-atom text of a local part, with RFC 6532 UTF-8 counted as atext.
const DOT_ATOM_LOCAL =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+)*$/u

function isDotAtomLocal(local: string): boolean {
  return DOT_ATOM_LOCAL.test(local)
}

/** A local part as an RFC 5322 quoted-string (`\` and `"` escaped). */
function quoteLocal(local: string): string {
  return `"${local.replace(/["\\]/g, '\\$&')}"`
}

/**
 * Parses exactly one RFC 5322 mailbox (`"Name" <a@b.example>` or `a@b.example`, UTF-8 allowed per
 * RFC 6532); null for groups, lists, comments-only, domain literals, control characters and
 * over-long parts.
 */
export function parseMailbox(input: string): Mailbox | null {
  if (FORBIDDEN_CHARS.test(input)) return null
  const simple = parseSimpleMailbox(input)
  if (simple !== undefined) return checked(simple.name, simple.local, simple.domain)
  const parsed = emailAddresses.parseOneAddress({ input, rfc6532: true })
  if (parsed === null || parsed.type !== 'mailbox') return null
  return checked(parsed.name, parsed.local, parsed.domain)
}

// The common shapes, read without the full grammar (it costs tens of µs an address, and the
// delivery path reads several per message): `a@b.example`, `"Name" <a@b.example>` and
// `Name Words <a@b.example>`, all ASCII dot-atoms. Anything else takes the full parser; a test
// holds both to the same answers.
const ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~"
const DOT_ATOM = `[${ATEXT}]+(?:\\.[${ATEXT}]+)*`
const SIMPLE_ADDRESS = new RegExp(`^(${DOT_ATOM})@(${DOT_ATOM})$`)
const SIMPLE_QUOTED = new RegExp(`^"([^"\\\\]*)" ?<(${DOT_ATOM})@(${DOT_ATOM})>$`)
const SIMPLE_PHRASE = new RegExp(`^([${ATEXT}]+(?: [${ATEXT}]+)*) <(${DOT_ATOM})@(${DOT_ATOM})>$`)

function parseSimpleMailbox(
  input: string,
): { name: string | null; local: string; domain: string } | undefined {
  const bare = SIMPLE_ADDRESS.exec(input)
  if (bare !== null) return { name: null, local: bare[1] ?? '', domain: bare[2] ?? '' }
  const named = SIMPLE_QUOTED.exec(input) ?? SIMPLE_PHRASE.exec(input)
  if (named !== null)
    return { name: named[1] ?? null, local: named[2] ?? '', domain: named[3] ?? '' }
  return undefined
}

function checked(rawName: string | null, local: string, domain: string): Mailbox | null {
  // The parser gives a quoted local part unquoted (`"a b"@x` → `a b@x`): quote it again, or the
  // envelope would name another address.
  const address = `${isDotAtomLocal(local) ? local : quoteLocal(local)}@${domain}`
  if (Buffer.byteLength(local) > MAX_LOCAL_OCTETS) return null
  if (Buffer.byteLength(address) > MAX_ADDRESS_OCTETS) return null
  if (toAsciiDomain(domain) === null) return null
  const name = rawName?.trim() ?? ''
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

// Lower-case ASCII atext and dots around one "@": parsed or not, such an address reads back as
// itself, so it is its own comparison form (most stored addresses are; the parse costs µs each).
const PLAIN_LOWER_ADDRESS = /^[a-z0-9!#$%&'*+\-/=?^_`{|}~.]+@[a-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/

/** The comparison form of an address given as text (lower-cased as a whole when it does not parse). */
export function normalizeAddressText(address: string): string {
  if (PLAIN_LOWER_ADDRESS.test(address)) return address
  const mailbox = parseMailbox(address)
  return mailbox === null ? address.trim().toLowerCase() : normalizeAddress(mailbox)
}

/** A mailbox as one header-safe string: `"Name" <a@b>` (quotes and backslashes escaped) or `a@b`. */
export function formatMailbox(mailbox: Pick<Mailbox, 'name' | 'address'>): string {
  if (mailbox.name === null) return mailbox.address
  return `"${mailbox.name.replace(/["\\]/g, '\\$&')}" <${mailbox.address}>`
}
