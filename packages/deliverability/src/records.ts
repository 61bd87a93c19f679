/** One term of an SPF record (RFC 7208 §4.6): a mechanism with its qualifier, or a modifier. */
export type SpfTerm = { qualifier: '+' | '-' | '~' | '?'; name: string; value: string | null }

export type Spf = { terms: SpfTerm[]; redirect: string | null }

const QUALIFIERS = ['+', '-', '~', '?'] as const

/** The SPF records among a name's TXT records (a TXT record's strings are joined first). */
export function spfRecords(txt: readonly (readonly string[])[]): string[] {
  return txt
    .map((strings) => strings.join(''))
    .filter((record) => /^v=spf1(\s|$)/i.test(record.trim()))
}

/** Parses `v=spf1 include:x ip4:1.2.3.4 ~all` into its terms. */
export function parseSpf(record: string): Spf {
  const terms: SpfTerm[] = []
  let redirect: string | null = null
  for (const token of record.trim().split(/\s+/).slice(1)) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(token)
    if (modifier !== null) {
      if ((modifier[1] ?? '').toLowerCase() === 'redirect') redirect = modifier[2] ?? null
      continue
    }
    const match = /^([+\-~?]?)([a-z0-9]+)(?:[:/](.*))?$/i.exec(token)
    if (match === null) continue
    const qualifier = QUALIFIERS.find((q) => q === match[1]) ?? '+'
    terms.push({ qualifier, name: (match[2] ?? '').toLowerCase(), value: match[3] ?? null })
  }
  return { terms, redirect }
}

/** Mechanisms that cost a DNS lookup (RFC 7208 §4.6.4: at most 10 in all). */
export const LOOKUP_MECHANISMS = new Set(['include', 'a', 'mx', 'ptr', 'exists'])

export type Dmarc = {
  policy: 'none' | 'quarantine' | 'reject'
  /** DKIM and SPF alignment: relaxed (default) or strict. */
  adkim: 'r' | 's'
  aspf: 'r' | 's'
  rua: string | null
}

/** The DMARC record among `_dmarc` TXT records (RFC 7489 §6.3); null when there is none. */
export function parseDmarc(txt: readonly (readonly string[])[]): Dmarc | null {
  const record = txt
    .map((strings) => strings.join(''))
    .find((r) => /^v=DMARC1\s*(;|$)/i.test(r.trim()))
  if (record === undefined) return null
  const tags = new Map(
    record
      .split(';')
      .map((part) => part.trim().split('='))
      .filter((pair) => pair.length >= 2)
      .map(([key, ...value]) => [(key ?? '').trim().toLowerCase(), value.join('=').trim()]),
  )
  const policy = tags.get('p')?.toLowerCase()
  return {
    policy: policy === 'reject' || policy === 'quarantine' ? policy : 'none',
    adkim: tags.get('adkim')?.toLowerCase() === 's' ? 's' : 'r',
    aspf: tags.get('aspf')?.toLowerCase() === 's' ? 's' : 'r',
    rua: tags.get('rua') ?? null,
  }
}

/** The p= of a DKIM key record (whitespace removed); null when it is not one. */
export function dkimPublicKey(txt: readonly (readonly string[])[]): string | null {
  const record = txt.map((strings) => strings.join('')).find((r) => /(^|;)\s*p=/.test(r))
  if (record === undefined) return null
  return /(?:^|;)\s*p=([^;]*)/.exec(record)?.[1]?.replace(/\s+/g, '') ?? null
}
