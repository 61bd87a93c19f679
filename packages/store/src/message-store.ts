import type { Cluster, Redis } from 'ioredis'
import { normalizeAddressText } from '@outbound/address'
import { type MessageSummary, STREAMS, type Stream, type WebhookEvent } from '@outbound/jobs'
import { createKeys, MESSAGE_SHARDS, messageShard } from './keys.js'
import {
  CLAIMED_FIELDS,
  type ClaimedMessage,
  type RateSlot,
  type DkimOutcome,
  FINAL_STATUSES,
  type MessageContent,
  type MessageEvent,
  type MessageRecord,
  type MessageStatus,
  type NewMessage,
  MESSAGE_STATUSES,
  parseMessageContent,
  parseClaimedMessage,
  parseMessageRecord,
  parseRecipients,
  parseRequest,
  RECORD_FIELDS,
  serializeNewMessage,
  type Recipient,
  type Routing,
} from './message-record.js'
import {
  CANCEL_MESSAGE,
  CLAIM_MESSAGE,
  COMMIT_HANDOFF,
  CREATE_MESSAGES,
  RECORD_OUTCOME,
  RESERVE_IDEMPOTENCY_KEY,
  RETRY_MESSAGE,
  runScript,
} from './scripts.js'
import { type StatCounts, statsArgs, statsField } from './stats-store.js'
import { unpackRawSource } from './raw-source.js'
import { createMessageSearch, type MessageSearch } from './message-search.js'
import { messageIndexes, statusIndex, statusIndexKeys } from './message-index.js'

/** How long a message record is kept once its status is final. */
export const MESSAGE_RETENTION_SECONDS = 30 * 24 * 3600
/** How long an Idempotency-Key is remembered (CONTRACT.md: 24 h). */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600
// Messages per creating script call: bounds how long one call holds Redis.
const CREATE_CHUNK = 100

function chunks<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = []
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size))
  return parts
}

export type ClaimResult =
  | { kind: 'claimed'; message: ClaimedMessage }
  | { kind: 'missing' }
  | { kind: 'final'; status: MessageStatus }
  /** Another attempt reached the point of no return; `token` is its claim. */
  | {
      kind: 'committing'
      token: string
      committedAt: Date
      recipients: Recipient[]
      summary: MessageSummary
    }

export type CancelResult =
  | { kind: 'canceled'; previous: MessageStatus }
  | { kind: 'missing' }
  | { kind: 'conflict'; status: MessageStatus }

/** What an attempt ended with; fields left out are unchanged. */
export type Outcome = {
  /** `queued`: the message waits for its server (a rate limit, a throttled or down server). */
  status: Extract<
    MessageStatus,
    'queued' | 'sent' | 'deferred' | 'failed' | 'bounced' | 'suppressed'
  >
  event: { type: string; detail: string | null }
  sentAt?: Date
  deferredUntil?: Date | null
  /** Sets the attempt count (a quota deferral gives back the attempt it was counted as). */
  attempts?: number
  smtpResponse?: string | null
  error?: string | null
  recipients?: Recipient[]
  serverId?: string
  headerFrom?: string
  envelopeFrom?: string
  replyTo?: string
  routing?: Routing
  dkim?: DkimOutcome
  warnings?: string[]
  /** The webhook events this outcome reports, appended in the same step. */
  webhookEvents?: readonly WebhookEvent[]
  /** A slot booked on a server's rate clock, which the next attempt uses; cleared otherwise. */
  rateSlot?: RateSlot
  /** What the stats count for this outcome (recipients), in the same step. */
  counts?: StatCounts
}

export type RetryResult =
  /** A deferred message is due now: its delayed job should be promoted. */
  | { kind: 'due-now'; stream: Stream }
  /** A failed message waits in `queued` again, `recipients` of them pending: it needs a job. */
  | { kind: 'requeued'; stream: Stream; recipients: number }
  | { kind: 'missing' }
  | { kind: 'conflict'; status: MessageStatus }

export type IdempotencyEntry = {
  bodyHash: string
  messageId: string
  /** The first answer, returned again for every repeat. */
  response: { id: string; status: string; stream: string }
}

function eventJson(at: Date, type: string, detail: string | null): string {
  const event: MessageEvent = { at: at.toISOString(), type, detail }
  return JSON.stringify(event)
}

function outcomeFields(outcome: Outcome, at: Date): string[] {
  const fields: Record<string, string> = { status: outcome.status, updatedAt: at.toISOString() }
  if (outcome.sentAt !== undefined) fields['sentAt'] = outcome.sentAt.toISOString()
  if (outcome.deferredUntil !== undefined)
    fields['deferredUntil'] = outcome.deferredUntil?.toISOString() ?? ''
  if (outcome.attempts !== undefined) fields['attempts'] = String(outcome.attempts)
  if (outcome.smtpResponse !== undefined) fields['smtpResponse'] = outcome.smtpResponse ?? ''
  if (outcome.error !== undefined) fields['error'] = outcome.error ?? ''
  if (outcome.recipients !== undefined) fields['recipients'] = JSON.stringify(outcome.recipients)
  if (outcome.warnings !== undefined) fields['warnings'] = JSON.stringify(outcome.warnings)
  fields['rateSlot'] = outcome.rateSlot === undefined ? '' : JSON.stringify(outcome.rateSlot)
  return [...Object.entries(fields).flat(), ...handoffFields(outcome)]
}

/** What an attempt sends with: the server, the rewritten From, the envelope, the signature. */
export type Handoff = Pick<
  Outcome,
  'serverId' | 'headerFrom' | 'envelopeFrom' | 'replyTo' | 'routing' | 'dkim'
>

function handoffFields(handoff: Handoff): string[] {
  const fields: Record<string, string> = {}
  if (handoff.serverId !== undefined) fields['serverId'] = handoff.serverId
  if (handoff.headerFrom !== undefined) fields['headerFrom'] = handoff.headerFrom
  if (handoff.envelopeFrom !== undefined) fields['envelopeFrom'] = handoff.envelopeFrom
  if (handoff.replyTo !== undefined) fields['replyTo'] = handoff.replyTo
  if (handoff.routing !== undefined) fields['routing'] = JSON.stringify(handoff.routing)
  if (handoff.dkim !== undefined) fields['dkim'] = JSON.stringify(handoff.dkim)
  return Object.entries(fields).flat()
}

function isMessageStatus(value: unknown): value is MessageStatus {
  return MESSAGE_STATUSES.some((status) => status === value)
}

/** The message store over one Redis connection; every key lives under `prefix`. */
export function createMessageStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)
  const recordKeys = (id: string) => [keys.message(id), keys.messageEvents(id)]
  const scriptKeys = (id: string) => [keys.message(id), keys.messageEvents(id), keys.pendingOf(id)]
  const outcomeKeys = (id: string) => [...scriptKeys(id), keys.eventsOf(id)]
  const statusKeys = (id: string) => statusIndexKeys((filter) => keys.messageIndexOf(id, filter))

  /** The script call that creates `messages`, all of one shard and stats bucket. */
  async function createInShard(
    shard: number,
    messages: readonly NewMessage[],
    stats: ReturnType<typeof statsArgs>,
  ): Promise<boolean[]> {
    const indexKeys = new Map<string, number>()
    const recordKeys: string[] = []
    const args: (string | number)[] = [messages.length, ...stats.expiries]
    // Addresses repeat within a batch (its sender mostly): each comparison form is worked out once.
    const normalized = new Map<string, string>()
    const normalize = (address: string) => {
      let normal = normalized.get(address)
      if (normal === undefined) {
        normal = normalizeAddressText(address)
        normalized.set(address, normal)
      }
      return normal
    }
    for (const message of messages) {
      recordKeys.push(keys.message(message.id), keys.messageEvents(message.id))
      const detail = message.scheduledAt === null ? null : message.scheduledAt.toISOString()
      const positions: number[] = []
      for (const filter of [...messageIndexes(message, normalize), statusIndex(message.status)]) {
        const key = keys.messageIndex(shard, filter)
        let position = indexKeys.get(key)
        if (position === undefined) {
          position = indexKeys.size + 1
          indexKeys.set(key, position)
        }
        positions.push(position)
      }
      // Recipients suppressed at the door are counted with the acceptance.
      const suppressed = message.recipients.filter((r) => r.status === 'suppressed').length
      const counts = [statsField('accepted', message.stream, null), 1]
      if (suppressed > 0) counts.push(statsField('suppressed', message.stream, null), suppressed)
      const fields = Object.entries(serializeNewMessage(message))
      args.push(
        message.id,
        (message.scheduledAt ?? message.createdAt).getTime(),
        eventJson(message.createdAt, message.status, detail),
        message.createdAt.getTime(),
        positions.length,
        ...positions,
        counts.length / 2,
        ...counts,
        fields.length,
      )
      for (const [field, value] of fields) args.push(field, value)
    }
    const reply = await runScript(
      redis,
      CREATE_MESSAGES,
      [keys.pending(shard), ...stats.keys, ...recordKeys, ...indexKeys.keys()],
      args,
    )
    if (!Array.isArray(reply) || reply.length !== messages.length)
      throw new Error('creating messages: unexpected reply')
    return reply.map((created) => created === 1)
  }

  /**
   * Writes new records with their first events, one script call per shard and stats bucket;
   * per message, whether it was new (false when a record with that id exists).
   */
  async function createMessages(messages: readonly NewMessage[]): Promise<boolean[]> {
    const groups = new Map<
      string,
      { shard: number; stats: ReturnType<typeof statsArgs>; at: number[] }
    >()
    messages.forEach((message, i) => {
      const shard = messageShard(message.id)
      const stats = statsArgs(keys, message.id, message.createdAt, {})
      const name = `${shard}\n${stats.keys.join('\n')}`
      const group = groups.get(name)
      if (group === undefined) groups.set(name, { shard, stats, at: [i] })
      else group.at.push(i)
    })
    const created = new Array<boolean>(messages.length).fill(false)
    await Promise.all(
      [...groups.values()].flatMap(({ shard, stats, at }) =>
        chunks(at, CREATE_CHUNK).map(async (part) => {
          const flags = await createInShard(
            shard,
            part.map((i) => messages[i]).filter((m): m is NewMessage => m !== undefined),
            stats,
          )
          part.forEach((i, j) => (created[i] = flags[j] === true))
        }),
      ),
    )
    return created
  }

  const search = createMessageSearch(redis, prefix)

  return {
    /** One page of a message search (see createMessageSearch). */
    searchMessages: (...args: Parameters<MessageSearch['searchMessages']>) =>
      search.searchMessages(...args),

    /** Writes a new record with its first event; false when a record with that id exists. */
    async createMessage(message: NewMessage): Promise<boolean> {
      const [created] = await createMessages([message])
      return created === true
    },

    createMessages,

    /** Removes a record that was never handed to a queue (the enqueue failed). */
    async deleteMessage(id: string): Promise<void> {
      await Promise.all([redis.del(...recordKeys(id)), redis.zrem(keys.pendingOf(id), id)])
    },

    /** The record with its events, without the bodies; null when there is none. */
    async getMessage(id: string): Promise<MessageRecord | null> {
      // Both commands leave in one write; an event appended in between is harmless.
      const [values, events] = await Promise.all([
        redis.hmget(keys.message(id), ...RECORD_FIELDS),
        redis.lrange(keys.messageEvents(id), 0, -1),
      ])
      if (values[0] === null) return null
      const fields: Record<string, string> = {}
      RECORD_FIELDS.forEach((field, index) => {
        const value = values[index]
        if (value !== null && value !== undefined) fields[field] = value
      })
      return parseMessageRecord(id, fields, events)
    },

    /** The bodies and attachments of a message; null when there is no record. */
    async getMessageContent(id: string): Promise<MessageContent | null> {
      const raw = await redis.hget(keys.message(id), 'content')
      return raw === null ? null : parseMessageContent(id, raw)
    },

    /**
     * Takes a message for one delivery attempt identified by `token`, and reads what the attempt
     * needs of it in the same step.
     */
    async claimMessage(id: string, token: string, at: Date): Promise<ClaimResult> {
      const result = await runScript(
        redis,
        CLAIM_MESSAGE,
        [...scriptKeys(id), ...statusKeys(id)],
        [
          token,
          at.toISOString(),
          eventJson(at, 'sending', null),
          eventJson(
            at,
            'sending',
            'taken over from an attempt that was interrupted before the hand-over',
          ),
          id,
          ...CLAIMED_FIELDS,
        ],
      )
      if (!Array.isArray(result)) throw new Error(`claiming message ${id}: unexpected reply`)
      const reply: unknown[] = result
      const [kind, first, second, third, request, stream, serverId, sandbox] = reply
      if (kind === 'claimed' && Array.isArray(second)) {
        const values = second.map((value) => (typeof value === 'string' ? value : null))
        return { kind, message: parseClaimedMessage(id, Number(first), values) }
      }
      if (kind === 'missing') return { kind }
      if (kind === 'committing') {
        const held = parseRequest(id, typeof request === 'string' ? request : '')
        return {
          kind,
          token: typeof first === 'string' ? first : '',
          committedAt: new Date(typeof second === 'string' ? second : 0),
          recipients: typeof third === 'string' ? parseRecipients(id, third) : [],
          summary: {
            messageId: id,
            stream: typeof stream === 'string' ? stream : '',
            serverId: typeof serverId === 'string' ? serverId : null,
            reference: held.reference,
            tags: held.tags,
            metadata: held.metadata,
            subject: held.subject,
            to: held.to,
            ...(sandbox === '1' ? { sandbox: true as const } : {}),
          },
        }
      }
      if (kind === 'final' && isMessageStatus(first)) return { kind, status: first }
      throw new Error(`claiming message ${id}: unexpected reply ${String(kind)}`)
    },

    /**
     * Records that the end of DATA is about to be written. False when the claim was lost (canceled,
     * or taken over by another attempt): the caller must then abort without finishing DATA.
     */
    async commitHandoff(
      id: string,
      token: string,
      at: Date,
      handoff: Handoff = {},
      /** The bytes about to go out, as packRawSource packed them, and how long to keep them. */
      raw?: { packed: Buffer; retentionMs: number },
    ): Promise<boolean> {
      const keep = raw !== undefined && raw.retentionMs > 0
      const result = await runScript(
        redis,
        COMMIT_HANDOFF,
        [keys.message(id), keys.messageRaw(id)],
        [
          token,
          at.toISOString(),
          keep ? raw.packed : '',
          keep ? raw.retentionMs : 0,
          ...handoffFields(handoff),
        ],
      )
      return result === 1
    },

    /** Writes an attempt's outcome if `token` still holds the claim; false otherwise. */
    async recordOutcome(id: string, token: string, outcome: Outcome, at: Date): Promise<boolean> {
      const ttl = FINAL_STATUSES.includes(outcome.status) ? MESSAGE_RETENTION_SECONDS : 0
      // A deferred or waiting message waits for its next attempt: the sweeper watches it until then.
      const due =
        outcome.status === 'deferred' || outcome.status === 'queued'
          ? (outcome.deferredUntil ?? at).getTime().toString()
          : ''
      const webhookEvents = (outcome.webhookEvents ?? []).map((event) => JSON.stringify(event))
      const stats = statsArgs(keys, id, at, outcome.counts ?? {})
      const result = await runScript(
        redis,
        RECORD_OUTCOME,
        [...outcomeKeys(id), ...stats.keys, ...statusKeys(id)],
        [
          token,
          eventJson(at, outcome.event.type, outcome.event.detail),
          ttl,
          id,
          due,
          stats.counts,
          ...stats.expiries,
          webhookEvents.length,
          ...webhookEvents,
          ...outcomeFields(outcome, at),
        ],
      )
      return result === 1
    },

    /**
     * Cancels a message that has not reached the point of no return; `webhookEvent` is appended
     * in the same step when it does.
     */
    async cancelMessage(id: string, at: Date, webhookEvent?: WebhookEvent): Promise<CancelResult> {
      // The script counts the recipients it cancels; only the keys and expiries come from here.
      const stats = statsArgs(keys, id, at, {})
      const result = await runScript(
        redis,
        CANCEL_MESSAGE,
        [...outcomeKeys(id), ...stats.keys, ...statusKeys(id)],
        [
          eventJson(at, 'canceled', null),
          at.toISOString(),
          MESSAGE_RETENTION_SECONDS,
          id,
          webhookEvent === undefined ? '' : JSON.stringify(webhookEvent),
          ...stats.expiries,
        ],
      )
      if (!Array.isArray(result)) throw new Error(`canceling message ${id}: unexpected reply`)
      const [kind, status] = result.map(String)
      if (kind === 'missing') return { kind }
      if (!isMessageStatus(status)) throw new Error(`canceling message ${id}: unexpected reply`)
      return kind === 'canceled' ? { kind, previous: status } : { kind: 'conflict', status }
    },

    /**
     * Makes a deferred message due now, or gives a failed one a new round of the retry schedule
     * for its softly failed recipients (one atomic step); the caller then promotes or adds its job.
     */
    async retryMessage(id: string, at: Date): Promise<RetryResult> {
      const result = await runScript(
        redis,
        RETRY_MESSAGE,
        [...scriptKeys(id), ...statusKeys(id)],
        [id, at.toISOString(), at.getTime()],
      )
      if (!Array.isArray(result)) throw new Error(`retrying message ${id}: unexpected reply`)
      const [kind, second, third] = result.map(String)
      if (kind === 'missing') return { kind }
      if (kind === 'conflict' && isMessageStatus(second)) return { kind, status: second }
      const stream: Stream = second === 'mass' ? 'mass' : 'transactional'
      if (kind === 'deferred') return { kind: 'due-now', stream }
      if (kind === 'queued') return { kind: 'requeued', stream, recipients: Number(third) }
      throw new Error(`retrying message ${id}: unexpected reply ${String(kind)}`)
    },

    /** The exact bytes of a message's last hand-over; null before one, or after the retention. */
    async getRawSource(id: string): Promise<Buffer | null> {
      const stored = await redis.getBuffer(keys.messageRaw(id))
      return stored === null ? null : await unpackRawSource(stored)
    },

    /**
     * Messages that wait for an attempt and were due before `dueBefore`, oldest first, at most
     * `limit` per shard: where the sweeper looks for messages whose job is missing.
     */
    async duePending(dueBefore: Date, limit: number): Promise<{ id: string; due: Date }[]> {
      const replies = await Promise.all(
        Array.from({ length: MESSAGE_SHARDS }, (_, shard) =>
          redis.zrangebyscore(
            keys.pending(shard),
            '-inf',
            `(${dueBefore.getTime()}`,
            'WITHSCORES',
            'LIMIT',
            0,
            limit,
          ),
        ),
      )
      return replies.flatMap((reply) => {
        const entries: { id: string; due: Date }[] = []
        for (let i = 0; i + 1 < reply.length; i += 2)
          entries.push({ id: reply[i] ?? '', due: new Date(Number(reply[i + 1])) })
        return entries
      })
    },

    /** The status and stream of each message (null: no record). */
    async statusesOf(
      ids: readonly string[],
    ): Promise<({ status: MessageStatus; stream: Stream } | null)[]> {
      const values = await Promise.all(
        ids.map((id) => redis.hmget(keys.message(id), 'status', 'stream')),
      )
      return values.map(([status, stream]) =>
        isMessageStatus(status) && STREAMS.some((s) => s === stream)
          ? { status, stream: stream === 'mass' ? 'mass' : 'transactional' }
          : null,
      )
    },

    /** Looks at a waiting message again no sooner than `next` (the sweeper checked its job). */
    async postponePending(id: string, next: Date): Promise<void> {
      await redis.zadd(keys.pendingOf(id), 'XX', next.getTime(), id)
    },

    /** Forgets a pending entry whose message no longer waits (or no longer exists). */
    async dropPending(id: string): Promise<void> {
      await redis.zrem(keys.pendingOf(id), id)
    },

    /**
     * Remembers an Idempotency-Key for 24 h. Returns the entry stored first: `entry` itself when
     * this call stored it, or the earlier one (compare its bodyHash).
     */
    async reserveIdempotencyKey(
      scope: string,
      key: string,
      entry: IdempotencyEntry,
    ): Promise<{ stored: boolean; entry: IdempotencyEntry }> {
      const reply = await runScript(
        redis,
        RESERVE_IDEMPOTENCY_KEY,
        [keys.idempotency(scope, key)],
        [JSON.stringify(entry), IDEMPOTENCY_TTL_SECONDS],
      )
      if (typeof reply !== 'string') return { stored: true, entry }
      return { stored: false, entry: parseIdempotencyEntry(reply) }
    },

    /** Forgets a key whose request failed before it was enqueued, so a retry starts afresh. */
    async releaseIdempotencyKey(scope: string, key: string): Promise<void> {
      await redis.del(keys.idempotency(scope, key))
    },
  }
}

function parseIdempotencyEntry(raw: string): IdempotencyEntry {
  const value: unknown = JSON.parse(raw)
  if (
    typeof value === 'object' &&
    value !== null &&
    'bodyHash' in value &&
    'messageId' in value &&
    'response' in value &&
    typeof value.bodyHash === 'string' &&
    typeof value.messageId === 'string' &&
    typeof value.response === 'object' &&
    value.response !== null &&
    'id' in value.response &&
    'status' in value.response &&
    'stream' in value.response
  ) {
    const { id, status, stream } = value.response
    return {
      bodyHash: value.bodyHash,
      messageId: value.messageId,
      response: { id: String(id), status: String(status), stream: String(stream) },
    }
  }
  throw new Error('an idempotency entry in Redis is not valid')
}

export type MessageStore = ReturnType<typeof createMessageStore>
