import { Resolver } from 'node:dns/promises'
import type { ResolveTxt } from './dns-check.js'

const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN'])

/** TXT lookups through DNS_SERVERS (`host[:port]`), or the system resolver when it is empty. */
export function createTxtResolver(servers: readonly string[], timeoutMs = 5000): ResolveTxt {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 })
  if (servers.length > 0) resolver.setServers([...servers])
  return async (name) => {
    try {
      return await resolver.resolveTxt(name)
    } catch (err) {
      // A name without TXT records is an answer (none), not a failure.
      if (err instanceof Error && 'code' in err && NO_RECORDS.has(String(err.code))) return []
      throw new Error(`looking up TXT ${name}`, { cause: err })
    }
  }
}
