import type { Cluster, Redis } from 'ioredis'
import type { ConfigSnapshot } from './config-records.js'
import type { ConfigStore } from './config-store.js'

export type ConfigCache = {
  /** The latest snapshot read; the hot path reads this, never Redis. */
  current(): ConfigSnapshot
  /** Reads the configuration now (after a write of one's own, say). */
  refresh(): Promise<void>
  close(): Promise<void>
}

/**
 * A per-process copy of the configuration that follows every change: each write publishes the new
 * version, and a cheap poll of the version and write id every `pollMs` covers messages missed while
 * reconnecting, and a Redis that lost data (any difference reloads, not only a higher version).
 * `subscriber` must be a connection of its own (it enters subscriber mode).
 */
export async function createConfigCache(
  store: ConfigStore,
  subscriber: Redis | Cluster,
  options: { pollMs?: number; onError?: (err: unknown) => void } = {},
): Promise<ConfigCache> {
  let snapshot = await store.readSnapshot()
  let reading: Promise<void> | undefined
  // Every refresh() is a request; the loop reads until it has served the latest one, so a caller
  // that joins a read under way still gets a read that started after its call.
  let requested = 0
  // While Redis is away every poll fails alike: report each distinct error once.
  let lastError = ''
  const onError = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err)
    if (message !== lastError) options.onError?.(err)
    lastError = message
  }

  const refresh = async (): Promise<void> => {
    requested += 1
    if (reading !== undefined) return await reading
    reading = (async () => {
      let served = 0
      while (served < requested) {
        served = requested
        // Reads run one after another, so the last one read is the current configuration, even
        // when its version is lower (Redis lost data and counts again).
        snapshot = await store.readSnapshot()
        lastError = ''
      }
    })()
    try {
      await reading
    } finally {
      reading = undefined
    }
  }

  // Subscribing before the connection is ready races ioredis's own ready check (an INFO, which a
  // connection in subscriber mode may not send).
  if (subscriber.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      subscriber.once('ready', () => resolve())
      subscriber.once('end', () =>
        reject(new Error('the subscriber connection ended before it was ready')),
      )
    })
  }
  subscriber.on('message', (channel: string, version: string) => {
    if (channel === store.channel && Number(version) !== snapshot.version) refresh().catch(onError)
  })
  await subscriber.subscribe(store.channel)
  const poll = setInterval(() => {
    store
      .readStamp()
      .then(({ version, writeId }) =>
        version !== snapshot.version || writeId !== snapshot.writeId ? refresh() : undefined,
      )
      .catch(onError)
  }, options.pollMs ?? 1000)
  poll.unref()

  return {
    current: () => snapshot,
    refresh,
    async close() {
      clearInterval(poll)
      // A connection that is already gone has nothing left to unsubscribe.
      await subscriber.unsubscribe(store.channel).catch(() => undefined)
    },
  }
}
