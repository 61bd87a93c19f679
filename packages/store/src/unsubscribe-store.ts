import type { Cluster, Redis } from 'ioredis'
import type { WebhookEvent } from '@outbound/jobs'
import { createBounceStore } from './bounce-store.js'
import { createKeys } from './keys.js'
import { MESSAGE_RETENTION_SECONDS } from './message-store.js'
import { countingScript, runScript } from './scripts.js'
import { statsArgs } from './stats-store.js'

// KEYS: the message's unsubscribe marker set, its record's events, the shard's webhook events, the
// record, the hour and day stats buckets. ARGV: member (`index\nlist`), ttl seconds, record event
// json, webhook event json, stats counts, hour and day expiries. The first unsubscribe of a
// recipient from a list writes the event and counts it (and a line on the record's timeline when
// the record is still there); any later one writes nothing.
const MARK_UNSUBSCRIBED = countingScript(`
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RPUSH', KEYS[2], ARGV[3]) end
redis.call('XADD', KEYS[3], '*', 'e', ARGV[4])
-- Counted under the message's stream and server (empty when its record is gone).
countStats(KEYS[5], KEYS[6], ARGV[5], ARGV[6], ARGV[7], redis.call('HGET', KEYS[4], 'stream'), redis.call('HGET', KEYS[4], 'serverId'))
return 1
`)

export type Unsubscribe = {
  messageId: string
  recipientIndex: number
  /** The address in comparison form. */
  address: string
  list: string
  at: Date
  /** The `email.unsubscribed` event, written only by the first unsubscribe. */
  event: WebhookEvent
}

/** One-click unsubscribes: the list suppression and its `email.unsubscribed` event. */
export function createUnsubscribeStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)
  const bounces = createBounceStore(redis, prefix)
  return {
    /**
     * Suppresses a recipient for a list and emits its event, once: `unsubscribed` the first time,
     * `already` after (the same token again, or another message's link for the same list).
     *
     * The suppression (`{bounces}` slot) and the event (the message's shard) live in different
     * Cluster slots, so one script cannot write both. The event is written first, under a marker
     * that makes it once-only, and the suppression after it: a process that dies in between
     * leaves an event whose suppression the next use of the link writes (no second event), never
     * a suppression without its event.
     */
    async unsubscribe(unsubscribe: Unsubscribe): Promise<'unsubscribed' | 'already'> {
      const { messageId, address, list, at } = unsubscribe
      // Already unsubscribed (by this link or another message's of the same list): nothing new.
      // An entry put there otherwise (an import, an operator) still lets the person's own click
      // emit its event.
      const existing = await bounces.getSuppression(address, list)
      if (existing !== null && existing.source === 'unsubscribe') return 'already'
      const stats = statsArgs(keys, messageId, at, { unsubscribed: 1 })
      const first = await runScript(
        redis,
        MARK_UNSUBSCRIBED,
        [
          keys.unsubscribedOf(messageId),
          keys.messageEvents(messageId),
          keys.eventsOf(messageId),
          keys.message(messageId),
          ...stats.keys,
        ],
        [
          `${unsubscribe.recipientIndex}\n${list}`,
          MESSAGE_RETENTION_SECONDS,
          JSON.stringify({
            at: at.toISOString(),
            type: 'unsubscribed',
            detail: `recipient ${unsubscribe.recipientIndex + 1} unsubscribed from the list ${list}`,
          }),
          JSON.stringify(unsubscribe.event),
          stats.counts,
          ...stats.expiries,
        ],
      )
      const added = await bounces.addSuppression({
        address,
        list,
        reason: 'unsubscribed',
        source: 'unsubscribe',
        createdAt: at.toISOString(),
      })
      return first === 1 || added ? 'unsubscribed' : 'already'
    },
  }
}

export type UnsubscribeStore = ReturnType<typeof createUnsubscribeStore>
