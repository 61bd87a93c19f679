import { Resolver } from 'node:dns/promises'
import { parseDmarc } from '@outbound/deliverability'

/** A domain's DMARC policy (null: none published, or the look-up failed). */
export type DmarcPolicyOf = (domain: string) => Promise<'none' | 'quarantine' | 'reject' | null>

const TTL_MS = 3_600_000

/** DMARC policies through DNS_SERVERS (or the system resolver), each kept an hour. */
export function createDmarcPolicies(servers: readonly string[], now: () => Date): DmarcPolicyOf {
  const resolver = new Resolver({ timeout: 3000, tries: 1 })
  if (servers.length > 0) resolver.setServers([...servers])
  const cache = new Map<
    string,
    { policy: 'none' | 'quarantine' | 'reject' | null; until: number }
  >()
  return async (domain) => {
    const known = cache.get(domain)
    if (known !== undefined && known.until > now().getTime()) return known.policy
    let policy: 'none' | 'quarantine' | 'reject' | null
    try {
      policy = parseDmarc(await resolver.resolveTxt(`_dmarc.${domain}`))?.policy ?? null
    } catch {
      // No record, or no answer: a warning is advice, and its absence must not hold mail back.
      policy = null
    }
    cache.set(domain, { policy, until: now().getTime() + TTL_MS })
    return policy
  }
}
