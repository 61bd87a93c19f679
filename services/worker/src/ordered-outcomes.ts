import type { Redis } from 'ioredis'
import { createMessageStore, type MessageStore } from '@outbound/store'

/**
 * The store's outcome writes over the BullMQ workers' connection, each held back until the end of
 * the event loop's turn (the socket corked) so that BullMQ's move of the job, issued in the same
 * turn, leaves in the same write: Redis gets both in one read, in that order.
 */
export function orderedOutcomes(
  redis: Redis,
  prefix?: string,
): Pick<MessageStore, 'recordOutcome'> {
  const store = createMessageStore(redis, prefix)
  return {
    recordOutcome: (...args) => {
      // No socket yet (never connected): the write waits in ioredis's offline queue anyway.
      const socket = redis.status === 'ready' ? redis.stream : undefined
      if (socket !== undefined) {
        socket.cork()
        setImmediate(() => socket.uncork())
      }
      return store.recordOutcome(...args)
    },
  }
}
