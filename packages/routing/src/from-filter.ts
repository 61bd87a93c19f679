import { normalizeAddress, parseMailbox, toAsciiDomain } from '@outbound/address'

/** One part of a from filter: a full address, or a domain (DOMAIN.md §3). */
export type FilterPart = { kind: 'address'; value: string } | { kind: 'domain'; value: string }

export type ParsedFilter = { ok: true; parts: FilterPart[] } | { ok: false; invalidPart: string }

/** An address in comparison form, with its domain; null when it is not a bare address. */
export type AddressKey = { address: string; domain: string }

/**
 * Parses a comma-separated from filter: parts trimmed, empty parts dropped; a part with `@` is an
 * address, any other a domain. Values are normalised (IDNA A-label, lower case).
 */
export function parseFromFilter(filter: string | null): ParsedFilter {
  const parts: FilterPart[] = []
  for (const raw of (filter ?? '').split(',')) {
    const part = raw.trim()
    if (part === '') continue
    if (part.includes('@')) {
      const key = addressKey(part)
      if (key === null || part.includes('<')) return { ok: false, invalidPart: part }
      parts.push({ kind: 'address', value: key.address })
    } else {
      const domain = toAsciiDomain(part)
      if (domain === null) return { ok: false, invalidPart: part }
      parts.push({ kind: 'domain', value: domain })
    }
  }
  return { ok: true, parts }
}

/** The comparison form of a bare address and its domain, or null when it is not one. */
export function addressKey(address: string): AddressKey | null {
  const mailbox = parseMailbox(address)
  if (mailbox === null || mailbox.name !== null) return null
  const normalized = normalizeAddress(mailbox)
  return { address: normalized, domain: normalized.slice(normalized.lastIndexOf('@') + 1) }
}

/** Filter parts to match against; a filter that does not parse (refused on save) matches nothing. */
export function filterParts(filter: string | null): readonly FilterPart[] {
  const parsed = parseFromFilter(filter)
  return parsed.ok ? parsed.parts : [{ kind: 'domain', value: '' }]
}

export function hasAddressPart(parts: readonly FilterPart[], key: AddressKey): boolean {
  return parts.some((part) => part.kind === 'address' && part.value === key.address)
}

export function hasDomainPart(parts: readonly FilterPart[], key: AddressKey): boolean {
  return parts.some((part) => part.kind === 'domain' && part.value === key.domain)
}

/** An empty filter matches every address; otherwise an equal address part or domain part. */
export function matchesParts(parts: readonly FilterPart[], key: AddressKey | null): boolean {
  if (parts.length === 0) return true
  return key !== null && (hasAddressPart(parts, key) || hasDomainPart(parts, key))
}

/** `matchesFilter(address, filter)` of DOMAIN.md §3 (no subdomain matching). */
export function matchesFilter(address: string, filter: string | null): boolean {
  return matchesParts(filterParts(filter), addressKey(address))
}
