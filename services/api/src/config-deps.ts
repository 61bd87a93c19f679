import type { ConfigCache, ConfigStore, ServerStateStore } from '@outbound/store'
import type { ResolveTxt } from './dns-check.js'

/** What the configuration routes need. */
export type ConfigDeps = {
  configStore: ConfigStore
  configCache: ConfigCache
  /** Servers' health (ok, throttled, down), shared with the workers. */
  serverStates: ServerStateStore
  newId: (kind: 'srv' | 'ad' | 'co') => string
  now: () => Date
  /** OUTBOUND_SECRET_KEY: seals SMTP passwords; without it a password is refused. */
  secretKey: Buffer | undefined
  /** OUTBOUND_SECRET_KEY_PREVIOUS: keys being rotated out, which still open stored passwords. */
  previousSecretKeys: readonly Buffer[]
  /** TXT lookups for the DNS checks (DNS_SERVERS, else the system resolver). */
  resolveTxt: ResolveTxt
  /** Extra CA certificates to trust when testing a server (system CAs are always trusted). */
  extraCa: Buffer | undefined
}
