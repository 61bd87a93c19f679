export {
  /** `"Name" <a@b>` with the name quoted and escaped, or the bare address. */
  formatMailbox,
  type Mailbox,
  /** The comparison form of an address (IDNA A-label domain, ASCII local part lower-cased). */
  normalizeAddress,
  /** The comparison form of an address given as text. */
  normalizeAddressText,
  /** Exactly one mailbox, or null when the input is not one valid address. */
  parseMailbox,
  /** The lower-cased IDNA A-label form of a mail domain (RFC 5322 dot-atom, `_` allowed), or null. */
  toAsciiDomain,
  /** The lower-cased IDNA A-label of an SMTP host name (RFC 1123), or null when it is not one. */
  toAsciiHostname,
} from './parse-mailbox.js'
