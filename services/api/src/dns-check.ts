import { aliasAddresses } from '@outbound/rewrite'
import { matchesFilter } from '@outbound/routing'
import {
  dkimPublicKey,
  LOOKUP_MECHANISMS,
  parseDmarc,
  parseSpf,
  spfRecords,
  type Spf,
} from '@outbound/deliverability'
import type { AliasDomainRecord, OutgoingServer } from '@outbound/store'

export type Finding = {
  check: 'spf' | 'dkim' | 'dmarc' | 'bounce'
  status: 'ok' | 'warn' | 'error'
  message: string
  /** What to do about it (null when nothing). */
  fix: string | null
}

/** TXT records of a name; an empty list when the name has none. */
export type ResolveTxt = (name: string) => Promise<string[][]>

const MAX_LOOKUPS = 10

const finding = (
  check: Finding['check'],
  status: Finding['status'],
  message: string,
  fix: string | null = null,
): Finding => ({
  check,
  status,
  message,
  fix,
})

/** The DNS lookups an SPF record costs, following includes and redirects (RFC 7208 §4.6.4). */
async function countLookups(spf: Spf, resolveTxt: ResolveTxt, seen: Set<string>): Promise<number> {
  let count = 0
  const follow = async (domain: string) => {
    if (seen.has(domain) || seen.size > 50) return
    seen.add(domain)
    const [record] = spfRecords(await resolveTxt(domain))
    if (record !== undefined) count += await countLookups(parseSpf(record), resolveTxt, seen)
  }
  for (const term of spf.terms) {
    if (!LOOKUP_MECHANISMS.has(term.name)) continue
    count += 1
    if (term.name === 'include' && term.value !== null) await follow(term.value.toLowerCase())
  }
  if (spf.redirect !== null) {
    count += 1
    await follow(spf.redirect.toLowerCase())
  }
  return count
}

const termText = (name: string, value: string | null) =>
  (value === null ? name : `${name}:${value}`).toLowerCase()

async function checkSpf(
  domain: string,
  servers: readonly OutgoingServer[],
  resolveTxt: ResolveTxt,
): Promise<Finding[]> {
  const declared = servers
    .map((s) => s.spf ?? '')
    .filter((spf) => spf !== '')
    .join(' ')
  const records = spfRecords(await resolveTxt(domain))
  const suggestion = `${domain} TXT "v=spf1 ${declared === '' ? 'include:<your provider>' : declared} ~all"`
  if (records.length === 0)
    return [finding('spf', 'error', `${domain} has no SPF record`, `publish ${suggestion}`)]
  if (records.length > 1) {
    return [
      finding(
        'spf',
        'error',
        `${domain} has ${records.length} SPF records: receivers treat that as an error`,
        'merge them into one',
      ),
    ]
  }
  const spf = parseSpf(records[0] ?? '')
  const findings: Finding[] = []
  const present = new Set(spf.terms.map((t) => termText(t.name, t.value)))
  for (const server of servers) {
    if (server.spf === undefined || server.spf === null || server.spf.trim() === '') {
      findings.push(
        finding(
          'spf',
          'warn',
          `server ${server.name} does not say what authorises it in SPF: it cannot be checked`,
          `set its spf field (e.g. include:_spf.provider.example)`,
        ),
      )
      continue
    }
    const missing = server.spf
      .trim()
      .split(/\s+/)
      .filter((term) => !present.has(term.toLowerCase()))
    findings.push(
      missing.length === 0
        ? finding('spf', 'ok', `SPF authorises server ${server.name} (${server.spf})`)
        : finding(
            'spf',
            'error',
            `SPF does not authorise server ${server.name}`,
            `add ${missing.join(' ')} before the all term`,
          ),
    )
  }
  const all = spf.terms.find((t) => t.name === 'all')
  if (all === undefined && spf.redirect === null) {
    findings.push(
      finding(
        'spf',
        'warn',
        'SPF ends without an all term: other senders are neither allowed nor refused',
        'end it with ~all or -all',
      ),
    )
  } else if (all !== undefined && (all.qualifier === '+' || all.qualifier === '?')) {
    findings.push(
      finding(
        'spf',
        'warn',
        `SPF ends with ${all.qualifier}all: anyone may send as ${domain}`,
        'end it with ~all or -all',
      ),
    )
  } else if (all !== undefined) {
    findings.push(finding('spf', 'ok', `SPF ends with ${all.qualifier}all`))
  }
  const lookups = await countLookups(spf, resolveTxt, new Set([domain]))
  findings.push(
    lookups > MAX_LOOKUPS
      ? finding(
          'spf',
          'error',
          `SPF needs ${lookups} DNS lookups; receivers stop at ${MAX_LOOKUPS} (permerror)`,
          'replace includes by ip4/ip6 ranges, or drop unused ones',
        )
      : finding('spf', 'ok', `SPF needs ${lookups} of ${MAX_LOOKUPS} DNS lookups`),
  )
  return findings
}

async function checkDkim(
  aliasDomain: AliasDomainRecord,
  domain: string,
  resolveTxt: ResolveTxt,
): Promise<Finding[]> {
  const keys = aliasDomain.dkimKeys ?? []
  if (keys.length === 0) {
    return [
      finding(
        'dkim',
        'warn',
        `no DKIM key for ${domain}: its mail goes out unsigned`,
        `POST /v1/alias-domains/${aliasDomain.id}/dkim, then publish the record it answers`,
      ),
    ]
  }
  const findings: Finding[] = []
  for (const key of keys) {
    const name = `${key.selector}._domainkey.${domain}`
    const record = `${name} TXT "v=DKIM1; k=${key.algorithm}; p=${key.publicKey}"`
    const published = dkimPublicKey(await resolveTxt(name))
    if (published === null)
      findings.push(finding('dkim', 'error', `no DKIM record at ${name}`, `publish ${record}`))
    else if (published !== key.publicKey) {
      findings.push(
        finding(
          'dkim',
          'error',
          `the DKIM record at ${name} does not match the key Outbound signs with`,
          `publish ${record}`,
        ),
      )
    } else
      findings.push(
        finding('dkim', 'ok', `${name} publishes the ${key.algorithm} key Outbound signs with`),
      )
  }
  return findings
}

async function checkDmarc(
  aliasDomain: AliasDomainRecord,
  domain: string,
  resolveTxt: ResolveTxt,
): Promise<Finding[]> {
  const dmarc = parseDmarc(await resolveTxt(`_dmarc.${domain}`))
  if (dmarc === null) {
    return [
      finding(
        'dmarc',
        'warn',
        `${domain} has no DMARC record`,
        `publish _dmarc.${domain} TXT "v=DMARC1; p=none; rua=mailto:postmaster@${domain}"`,
      ),
    ]
  }
  const signed = (aliasDomain.dkimKeys ?? []).length > 0
  if (dmarc.policy !== 'none' && !signed) {
    return [
      finding(
        'dmarc',
        'error',
        `p=${dmarc.policy} and no DKIM key: mail will be rejected`,
        `create a DKIM key and publish it before keeping p=${dmarc.policy}`,
      ),
    ]
  }
  return [
    finding(
      'dmarc',
      dmarc.policy === 'none' ? 'warn' : 'ok',
      `DMARC p=${dmarc.policy} (DKIM alignment ${dmarc.adkim === 's' ? 'strict' : 'relaxed'}, SPF alignment ${dmarc.aspf === 's' ? 'strict' : 'relaxed'}); Outbound signs as ${domain} and uses bounce addresses on it, so both align`,
      dmarc.policy === 'none'
        ? 'once reports look clean, move to p=quarantine, then p=reject'
        : null,
    ),
  ]
}

/** SPF, DKIM, DMARC and bounce-domain findings for an alias domain (GET /v1/alias-domains/:id/dns). */
export async function checkAliasDomain(
  aliasDomain: AliasDomainRecord,
  servers: readonly OutgoingServer[],
  resolveTxt: ResolveTxt,
): Promise<{ domain: string; findings: Finding[] }> {
  const { domain, bounce } = aliasAddresses(aliasDomain)
  // The servers that send this domain's mail: active ones whose filter lets its addresses through.
  const senders = servers.filter(
    (s) => s.active && matchesFilter(`postmaster@${domain}`, s.fromFilter),
  )
  const spf = await checkSpf(domain, senders, resolveTxt)
  const spfBroken = spf.some((f) => f.status === 'error')
  return {
    domain,
    findings: [
      ...spf,
      ...(await checkDkim(aliasDomain, domain, resolveTxt)),
      ...(await checkDmarc(aliasDomain, domain, resolveTxt)),
      finding(
        'bounce',
        spfBroken ? 'error' : 'ok',
        `mail goes out with MAIL FROM ${bounce}: receivers check the SPF of ${domain}${spfBroken ? ', which fails' : ''}`,
        spfBroken ? 'fix the SPF findings above' : null,
      ),
    ],
  }
}
