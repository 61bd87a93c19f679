import { parseMailbox, toAsciiDomain } from '@outbound/address'

export type AliasDomain = {
  id: string
  name: string
  sequence: number
  bounceAlias: string
  catchallAlias: string
  /** A local part (`notifications`) or a full address. */
  defaultFrom: string
}

export type AliasAddresses = {
  /** N: the notification address. */
  notification: string
  /** B: the bounce address, used as MAIL FROM so DSNs come back to Outbound. */
  bounce: string
  catchall: string
  /** defaultFrom is a full address: every message of the alias domain goes out from it. */
  defaultFromIsAddress: boolean
  /** The alias domain's name as an IDNA A-label, for addresses and Message-IDs. */
  domain: string
}

// RFC 5322 atext plus the dot.
const NOT_DOT_ATOM = /[^a-z0-9!#$%&'*+/=?^_`{|}~.-]+/g

/**
 * An alias local part as Odoo saves it (DOMAIN.md §2): `x@y` keeps `x`; trimmed, accents
 * stripped, lower-cased, runs of characters outside the ASCII dot-atom replaced by `-`, leading,
 * trailing and doubled dots dropped. Null when nothing is left.
 */
export function sanitizeAliasLocalPart(input: string): string | null {
  const local = input.split('@')[0] ?? ''
  const sanitized = local
    .trim()
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(NOT_DOT_ATOM, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '')
  return sanitized === '' ? null : sanitized
}

/** An alias domain name: trimmed and lower-cased; null when it is not a domain name. */
export function sanitizeAliasDomainName(input: string): string | null {
  const name = input.trim().toLowerCase()
  return toAsciiDomain(name) === null ? null : name
}

/** defaultFrom: a full address kept as given (bare), or a sanitised local part; null if invalid. */
export function sanitizeDefaultFrom(input: string): string | null {
  const trimmed = input.trim()
  if (!trimmed.includes('@')) return sanitizeAliasLocalPart(trimmed)
  const mailbox = parseMailbox(trimmed)
  return mailbox === null || mailbox.name !== null ? null : mailbox.address
}

/** N, B and the catchall of an alias domain (DOMAIN.md §2). */
export function aliasAddresses(aliasDomain: AliasDomain): AliasAddresses {
  const domain = toAsciiDomain(aliasDomain.name) ?? aliasDomain.name
  const defaultFromIsAddress = aliasDomain.defaultFrom.includes('@')
  return {
    notification: defaultFromIsAddress
      ? aliasDomain.defaultFrom
      : `${aliasDomain.defaultFrom}@${domain}`,
    bounce: `${aliasDomain.bounceAlias}@${domain}`,
    catchall: `${aliasDomain.catchallAlias}@${domain}`,
    defaultFromIsAddress,
    domain,
  }
}

/** The company's alias domain, else the one with the lowest sequence, else none. */
export function aliasDomainFor(
  companyAliasDomainId: string | null,
  aliasDomains: readonly AliasDomain[],
): AliasDomain | null {
  const own = aliasDomains.find((domain) => domain.id === companyAliasDomainId)
  if (own !== undefined) return own
  return aliasDomains.reduce<AliasDomain | null>(
    (lowest, domain) =>
      lowest === null ||
      domain.sequence < lowest.sequence ||
      (domain.sequence === lowest.sequence && domain.name < lowest.name)
        ? domain
        : lowest,
    null,
  )
}
