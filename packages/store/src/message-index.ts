import { normalizeAddressText } from '@outbound/address'
import { MESSAGE_STATUSES, type NewMessage } from './message-record.js'

/**
 * How far back (by acceptance time) the search indexes reach. A record lives until 30 days after
 * its final status, and a message may be scheduled 30 days ahead and then retried for a few days:
 * 65 days covers every record that can still exist. Entries older than this are pruned as new ones
 * are written, and an index key nobody writes to for this long expires.
 */
export const MESSAGE_INDEX_WINDOW_SECONDS = 65 * 24 * 3600

/** The index of every message of a shard. */
export const ALL_INDEX = 'all'

/** The index of the messages in one status. */
export const statusIndex = (status: string) => `status:${status}`

/**
 * The filter indexes a new message goes into besides its status (`all`, its stream, each recipient
 * address, its sender address, each tag, its reference and mailing list). Addresses are in their
 * comparison form; tags, references and lists are matched exactly.
 */
export function messageIndexes(
  message: Pick<NewMessage, 'stream' | 'request' | 'recipients'>,
  normalizeAddress: (address: string) => string = normalizeAddressText,
): string[] {
  const { request } = message
  // A mass message's mailing list (transactional mail has none).
  const list = message.stream === 'mass' ? (request.list ?? undefined) : undefined
  const indexes = new Set([ALL_INDEX, `stream:${message.stream}`])
  indexes.add(`from:${normalizeAddress(request.from)}`)
  for (const recipient of message.recipients)
    indexes.add(`to:${normalizeAddress(recipient.address)}`)
  for (const tag of request.tags) indexes.add(`tag:${tag}`)
  if (request.reference !== null) indexes.add(`reference:${request.reference}`)
  if (list !== undefined && list !== '') indexes.add(`list:${list}`)
  return [...indexes]
}

const WINDOW_MS = MESSAGE_INDEX_WINDOW_SECONDS * 1000

/**
 * Lua for writing many messages into the indexes in one step: `addToIndex(key, score, id)` notes
 * an entry, and `writeIndexes()` then adds the entries of each key with one ZADD, prunes the key's
 * entries older than the window (counted back from its newest entry written here) and renews its
 * expiry, once per key however many messages went into it.
 */
export const INDEX_WRITES_LUA = `
local indexEntries, indexNewest, indexOrder = {}, {}, {}
local function addToIndex(key, score, id)
  local entries = indexEntries[key]
  if not entries then
    entries = {}
    indexEntries[key] = entries
    indexOrder[#indexOrder + 1] = key
  end
  entries[#entries + 1] = score
  entries[#entries + 1] = id
  local n = tonumber(score)
  if not indexNewest[key] or n > indexNewest[key] then indexNewest[key] = n end
end
local function writeIndexes()
  for _, key in ipairs(indexOrder) do
    local entries = indexEntries[key]
    -- unpack() is bounded by the Lua stack: at most 1000 entries per ZADD.
    for i = 1, #entries, 2000 do
      redis.call('ZADD', key, unpack(entries, i, math.min(i + 1999, #entries)))
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', indexNewest[key] - ${WINDOW_MS}))
    redis.call('EXPIRE', key, ${MESSAGE_INDEX_WINDOW_SECONDS})
  end
end
`

/**
 * Lua that moves a message between the status indexes of its shard. KEYS[first] is the shard's
 * `all` index (whose score is the acceptance time), followed by one key per status in the order
 * of MESSAGE_STATUSES (see statusIndexKeys). A message that is in no index (written before the
 * indexes existed, or pruned) is left out.
 */
export function moveStatusLua(first: number): string {
  const entries = MESSAGE_STATUSES.map((status, i) => `['${status}'] = KEYS[${first + 1 + i}]`)
  return `
local STATUS_INDEX = {${entries.join(', ')}}
local function moveStatus(id, from, to)
  if from == to or not STATUS_INDEX[to] then return end
  local score = redis.call('ZSCORE', KEYS[${first}], id)
  if not score then return end
  if from and STATUS_INDEX[from] then redis.call('ZREM', STATUS_INDEX[from], id) end
  redis.call('ZADD', STATUS_INDEX[to], score, id)
  redis.call('EXPIRE', STATUS_INDEX[to], ${MESSAGE_INDEX_WINDOW_SECONDS})
end
`
}

/** The keys moveStatusLua expects, for a message of the shard `indexKey` builds keys in. */
export function statusIndexKeys(indexKey: (filter: string) => string): string[] {
  return [indexKey(ALL_INDEX), ...MESSAGE_STATUSES.map((status) => indexKey(statusIndex(status)))]
}
