import { createHash } from 'node:crypto'

/**
 * Every Redis key Outbound writes, under one base (`outbound`, or a test prefix). Keys written
 * together share a `{…}` hash tag so the scripts that touch them work on Redis Cluster.
 */
export function createKeys(base: string) {
  return {
    message: (id: string) => `${base}:msg:{${id}}`,
    messageEvents: (id: string) => `${base}:msg:{${id}}:events`,
    // Configuration objects share one hash tag so that a write and its version bump are atomic.
    config: (kind: 'servers' | 'alias-domains' | 'companies' | 'settings') =>
      `${base}:{config}:${kind}`,
    configVersion: () => `${base}:{config}:version`,
    // A random id per write, read with the version: a Redis that lost data (restarted empty, a
    // lagging replica promoted) starts counting versions again, but never repeats this id.
    configWriteId: () => `${base}:{config}:write-id`,
    configChannel: () => `${base}:config-changed`,
    // Bounces and suppressions share a tag: a bounce and the suppression it causes are one write.
    bounceRecords: () => `${base}:{bounces}:records`,
    bouncesByTime: () => `${base}:{bounces}:by-time`,
    bouncesByAddress: (address: string) => `${base}:{bounces}:address:${address}`,
    bouncesByMessage: (messageId: string) => `${base}:{bounces}:message:${messageId}`,
    suppressions: () => `${base}:{bounces}:suppressions`,
    /** The suppressed addresses by time added, for listing newest first a page at a time. */
    suppressionsByTime: () => `${base}:{bounces}:suppressions:by-time`,
    // Messages given to POST /v1/bounces/inbound that were not bounces, kept for inspection.
    rejectedInbound: () => `${base}:{bounces}:not-bounces`,
    // One counter per server and quota day (the local date in the quota time zone).
    quota: (serverId: string, day: string) => `${base}:quota:{${serverId}}:${day}`,
    // Client keys are hashed: any length and any character, a fixed-size key.
    idempotency: (scope: string, key: string) =>
      `${base}:idem:{${createHash('sha256').update(`${scope}\n${key}`).digest('hex')}}`,
  }
}

export type Keys = ReturnType<typeof createKeys>
