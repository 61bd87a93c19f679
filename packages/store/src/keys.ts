import { createHash } from 'node:crypto'

/**
 * Message data is spread over this many hash-tag shards (`{m0}` … `{m15}`): a message's record,
 * its events and the shard's indexes share a tag, so one script updates them together on Redis
 * Cluster, while the shards spread over the cluster's nodes. Never change it on a live store.
 */
export const MESSAGE_SHARDS = 16

/** The shard of a message id (FNV-1a of the id): stable, spread evenly. */
export function messageShard(id: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % MESSAGE_SHARDS
}

/**
 * Every Redis key Outbound writes, under one base (`outbound`, or a test prefix). Keys written
 * together share a `{…}` hash tag so the scripts that touch them work on Redis Cluster.
 */
export function createKeys(base: string) {
  return {
    message: (id: string) => `${base}:{m${messageShard(id)}}:msg:${id}`,
    messageEvents: (id: string) => `${base}:{m${messageShard(id)}}:msg:${id}:events`,
    /**
     * The messages of a shard that wait for an attempt (queued, scheduled, deferred), scored by
     * when it is due: the sweeper finds the ones whose job went missing here, not by a scan.
     */
    pending: (shard: number) => `${base}:{m${shard}}:pending`,
    pendingOf: (id: string) => `${base}:{m${messageShard(id)}}:pending`,
    /**
     * A shard's stream of webhook events (field `e`: the event's JSON), written with the outcomes
     * they report; the dispatcher reads every shard's stream.
     */
    events: (shard: number) => `${base}:{m${shard}}:events`,
    eventsOf: (id: string) => `${base}:{m${messageShard(id)}}:events`,
    /**
     * A shard's counters of one stats bucket (`hour`: `2026-12-01T03`, `day`: `2026-12-01`, UTC),
     * fields `<metric>|<stream>|<serverId>`: written by the scripts that record the outcomes they
     * count, so they share the messages' tag; a read sums the shards.
     */
    statsBucket: (shard: number, interval: 'hour' | 'day', start: string) =>
      `${base}:{m${shard}}:stats:${interval}:${start}`,
    statsBucketOf: (id: string, interval: 'hour' | 'day', start: string) =>
      `${base}:{m${messageShard(id)}}:stats:${interval}:${start}`,
    /**
     * A shard's complaints: records by id, ids by time, and one marker per (original, recipient)
     * that makes a repeated report a no-op. A complaint lives in its message's shard (or its
     * recipient's, when the message is unknown) so its webhook event is written in the same step.
     */
    complaints: (shard: number) => `${base}:{m${shard}}:complaints`,
    complaintsByTime: (shard: number) => `${base}:{m${shard}}:complaints:by-time`,
    complaintSeen: (shardKey: string, identity: string) =>
      `${base}:{m${messageShard(shardKey)}}:complaints:seen:${createHash('sha256').update(identity).digest('hex')}`,
    /** The complaint-rate level (0, 1: over 0.1 %, 2: over 0.3 %) a server was last seen at. */
    reputationLevel: (serverId: string) =>
      `${base}:{m${messageShard(serverId)}}:reputation:${serverId}`,
    /**
     * Which of a message's recipients unsubscribed from which list (`index\nlist`): one event per
     * recipient and list, however many times the link is used.
     */
    unsubscribedOf: (id: string) => `${base}:{m${messageShard(id)}}:msg:${id}:unsubscribed`,
    /**
     * A shard's search index: its messages scored by acceptance time (ms), one sorted set per
     * filter value (`all`, `status:sent`, `tag:<tag>` …). Written in the same scripts as the records.
     */
    messageIndex: (shard: number, filter: string) => `${base}:{m${shard}}:idx:${filter}`,
    messageIndexOf: (id: string, filter: string) => `${base}:{m${messageShard(id)}}:idx:${filter}`,
    /** The exact bytes of a message's last hand-over (maybe compressed), kept RAW_RETENTION_DAYS. */
    messageRaw: (id: string) => `${base}:{m${messageShard(id)}}:msg:${id}:raw`,
    /** The lease that lets one worker process at a time run the sweeper. */
    sweeperLease: () => `${base}:sweeper:lease`,
    // Configuration objects share one hash tag so that a write and its version bump are atomic.
    config: (kind: 'servers' | 'alias-domains' | 'companies' | 'webhooks' | 'settings') =>
      `${base}:{config}:${kind}`,
    configVersion: () => `${base}:{config}:version`,
    // A random id per write, read with the version: a Redis that lost data (restarted empty, a
    // lagging replica promoted) starts counting versions again, but never repeats this id.
    configWriteId: () => `${base}:{config}:write-id`,
    configChannel: () => `${base}:config-changed`,
    /** A webhook endpoint's attempt log: attempts as JSON, scored by when they were made (ms). */
    webhookAttempts: (endpointId: string) => `${base}:webhook:{${endpointId}}:attempts`,
    /** Since when every delivery to an endpoint has failed (ms); absent after a success. */
    webhookFailingSince: (endpointId: string) => `${base}:webhook:{${endpointId}}:failing-since`,
    /** An event's JSON, kept while its deliveries may be retried or replayed. */
    webhookEvent: (eventId: string) => `${base}:webhook-event:{${eventId}}`,
    /** The consumer group of the dispatchers on every shard's event stream. */
    eventsGroup: () => 'webhooks',
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
    // A server's shaping state shares its quota's tag: its health, its rate clock, its probe and
    // its connection leases.
    serverState: (serverId: string) => `${base}:server:{${serverId}}:state`,
    serverRate: (serverId: string, clock: 'gate' | 'wire') =>
      `${base}:server:{${serverId}}:rate:${clock}`,
    serverProbe: (serverId: string) => `${base}:server:{${serverId}}:probe`,
    serverLeases: (serverId: string) => `${base}:server:{${serverId}}:leases`,
    /** Which process waits for one of the server's connection leases (a short-lived marker). */
    serverLeaseWanted: (serverId: string) => `${base}:server:{${serverId}}:lease-wanted`,
    /** Messages deferred by a server's daily limit (`stream:id`, scored by when they retry). */
    quotaWaiting: (serverId: string) => `${base}:quota:{${serverId}}:waiting`,
    // Client keys are hashed: any length and any character, a fixed-size key.
    idempotency: (scope: string, key: string) =>
      `${base}:idem:{${createHash('sha256').update(`${scope}\n${key}`).digest('hex')}}`,
  }
}

export type Keys = ReturnType<typeof createKeys>
