import { randomBytes } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  createBounceStore,
  createKeys,
  createMessageStore,
  type MessageFilter,
  type MessageStore,
  type NewMessage,
  packRawSource,
  type SearchPosition,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()
let store: MessageStore
const day = 86_400_000
const t0 = new Date('2026-03-01T10:00:00Z')

function newMessage(id: string, createdAt: Date, extra: Partial<NewMessage['request']> = {}) {
  const to = extra.to ?? ['bob@example.com']
  const message: NewMessage = {
    id,
    stream: 'transactional',
    status: 'queued',
    createdAt,
    scheduledAt: null,
    request: {
      from: '"Shop" <Ann@Shop.example>',
      to,
      cc: [],
      bcc: [],
      replyTo: null,
      subject: 'Hello',
      headers: {},
      companyId: null,
      serverId: null,
      reference: null,
      tags: [],
      metadata: {},
      messageIdHeader: `<${id}@shop.example>`,
      ...extra,
    },
    content: { text: 'hi', html: null, attachments: [] },
    recipients: to.map((address) => ({
      address,
      field: 'to' as const,
      status: 'pending' as const,
      smtpCode: null,
      enhancedCode: null,
      diagnostic: null,
    })),
  }
  return message
}

/** Every id a search returns, following cursors with pages of `limit`. */
async function searchAll(filter: MessageFilter, limit = 3): Promise<string[]> {
  const ids: string[] = []
  let cursor: SearchPosition | null = null
  for (let page = 0; page < 100; page++) {
    const result = await store.searchMessages(filter, limit, cursor)
    ids.push(...result.rows.map((row) => row.id))
    if (result.next === null) return ids
    cursor = result.next
  }
  throw new Error('the search did not end')
}

beforeEach(() => {
  store = createMessageStore(db.redis, db.prefix)
})

describe('message search indexes', () => {
  it('orders newest first, ties by id, across shards and pages', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `msg_${String(i).padStart(3, '0')}`)
    // Groups of ten share an acceptance time, as a batch does.
    await store.createMessages(
      ids.map((id, i) => newMessage(id, new Date(t0.getTime() + Math.floor(i / 10)))),
    )
    expect(await searchAll({})).toEqual([...ids].reverse())
    expect(await searchAll({}, 100)).toEqual([...ids].reverse())
  })

  it('matches addresses in comparison form, and tags, references and time bounds exactly', async () => {
    await store.createMessage(
      newMessage('msg_a', t0, { to: ['Bob@Example.com'], tags: ['x', 'y'], reference: 'r1' }),
    )
    await store.createMessage(newMessage('msg_b', new Date(t0.getTime() + 10), { tags: ['y'] }))
    expect(await searchAll({ to: 'bob@example.com' })).toEqual(['msg_b', 'msg_a'])
    expect(await searchAll({ from: 'ann@shop.example' })).toEqual(['msg_b', 'msg_a'])
    expect(await searchAll({ tag: 'x' })).toEqual(['msg_a'])
    expect(await searchAll({ tag: 'y', reference: 'r1' })).toEqual(['msg_a'])
    expect(await searchAll({ reference: 'r2' })).toEqual([])
    expect(await searchAll({ since: new Date(t0.getTime() + 1) })).toEqual(['msg_b'])
    expect(await searchAll({ until: new Date(t0.getTime() + 10) })).toEqual(['msg_a'])
  })

  it('moves a message between status indexes in the step that changes its status', async () => {
    await store.createMessage(newMessage('msg_a', t0))
    await store.createMessage(newMessage('msg_b', t0))
    expect(await searchAll({ status: 'queued' })).toEqual(['msg_b', 'msg_a'])
    await store.cancelMessage('msg_a', new Date(t0.getTime() + 5))
    expect(await searchAll({ status: 'queued' })).toEqual(['msg_b'])
    expect(await searchAll({ status: 'canceled' })).toEqual(['msg_a'])
    const claimed = await store.claimMessage('msg_b', 'tok', new Date(t0.getTime() + 6))
    expect(claimed.kind).toBe('claimed')
    expect(await searchAll({ status: 'sending' })).toEqual(['msg_b'])
    await store.recordOutcome(
      'msg_b',
      'tok',
      { status: 'sent', event: { type: 'sent', detail: null } },
      new Date(t0.getTime() + 7),
    )
    expect(await searchAll({ status: 'sending' })).toEqual([])
    expect(await searchAll({ status: 'sent' })).toEqual(['msg_b'])
    // A late bounce of its only recipient makes it bounced, in the same step.
    await createBounceStore(db.redis, db.prefix).updateRecipients(
      'msg_b',
      { 'bob@example.com': { status: 'bounced', smtpCode: 550 } },
      { type: 'bounced', detail: 'late bounce' },
      new Date(t0.getTime() + 8),
    )
    expect(await searchAll({ status: 'sent' })).toEqual([])
    expect(await searchAll({ status: 'bounced' })).toEqual(['msg_b'])
  })

  it('drops entries whose record expired, prunes old entries and lets the index keys expire', async () => {
    const keys = createKeys(db.prefix)
    const allIndexOf = (id: string) => keys.messageIndexOf(id, 'all')
    await store.createMessage(newMessage('msg_gone', t0))
    await store.createMessage(newMessage('msg_new', new Date(t0.getTime() + 1)))
    // A record that expired (its TTL ran out) leaves a dangling entry: the next read removes it.
    await db.redis.del(keys.message('msg_gone'))
    expect(await searchAll({})).toEqual(['msg_new'])
    expect(await db.redis.zscore(allIndexOf('msg_gone'), 'msg_gone')).toBeNull()
    // Every index key has an expiry: the window, renewed by each write.
    for (const filter of ['all', 'status:queued', 'stream:transactional', 'to:bob@example.com']) {
      const ttl = await db.redis.ttl(keys.messageIndexOf('msg_new', filter))
      expect(ttl).toBeGreaterThan(64 * 86_400)
      expect(ttl).toBeLessThanOrEqual(65 * 86_400)
    }
    // An entry past the 65-day window goes when a newer message of its shard is indexed.
    await store.createMessage(newMessage('msg_old', new Date(t0.getTime() - 70 * day)))
    expect(await db.redis.zscore(allIndexOf('msg_old'), 'msg_old')).not.toBeNull()
    const neighbour = Array.from({ length: 200 }, (_, i) => `msg_s${i}`).find(
      (id) => allIndexOf(id) === allIndexOf('msg_old'),
    )
    if (neighbour === undefined) throw new Error('no id in the same shard')
    await store.createMessage(newMessage(neighbour, t0))
    for (const filter of ['all', 'status:queued', 'from:ann@shop.example', 'to:bob@example.com'])
      expect(await db.redis.zscore(keys.messageIndexOf('msg_old', filter), 'msg_old')).toBeNull()
  })

  it('keeps the raw source with the commit, for its retention, and nothing at retention 0', async () => {
    const keys = createKeys(db.prefix)
    const raw = Buffer.from(`Subject: hi\r\n\r\n${'hello world\r\n'.repeat(200)}`)
    for (const id of ['msg_kept', 'msg_none']) {
      await store.createMessage(newMessage(id, t0))
      await store.claimMessage(id, 'tok', t0)
      expect(await store.getRawSource(id)).toBeNull()
    }
    const packed = await packRawSource(raw)
    expect(packed.length).toBeLessThan(raw.length / 5)
    expect(await store.commitHandoff('msg_kept', 'tok', t0, {}, { packed, retentionMs: day })).toBe(
      true,
    )
    expect(await store.getRawSource('msg_kept')).toEqual(raw)
    const ttl = await db.redis.pttl(keys.messageRaw('msg_kept'))
    expect(ttl).toBeGreaterThan(day - 60_000)
    expect(ttl).toBeLessThanOrEqual(day)
    expect(await store.commitHandoff('msg_none', 'tok', t0, {}, { packed, retentionMs: 0 })).toBe(
      true,
    )
    expect(await store.getRawSource('msg_none')).toBeNull()
    // Incompressible bytes are kept as they are.
    const random = randomBytes(4096)
    const kept = await packRawSource(random)
    expect(kept.length).toBe(random.length + 1)
    expect(kept.subarray(1)).toEqual(random)
  })

  it('gives a failed message a new round for its softly failed recipients only, once', async () => {
    const message = newMessage('msg_f', t0, {
      to: ['soft@example.com', 'hard@example.com', 'ok@example.com'],
    })
    await store.createMessage(message)
    await store.claimMessage('msg_f', 'tok', t0)
    const [soft, hard, ok] = message.recipients
    if (soft === undefined || hard === undefined || ok === undefined) throw new Error('fixture')
    await store.recordOutcome(
      'msg_f',
      'tok',
      {
        status: 'failed',
        event: { type: 'failed', detail: 'retries exhausted' },
        recipients: [
          { ...soft, status: 'failed', smtpCode: 451, diagnostic: '451 later' },
          { ...hard, status: 'bounced', smtpCode: 550, diagnostic: '550 no' },
          { ...ok, status: 'sent', smtpCode: 250 },
        ],
      },
      t0,
    )
    const retries = await Promise.all([
      store.retryMessage('msg_f', new Date(t0.getTime() + 1000)),
      store.retryMessage('msg_f', new Date(t0.getTime() + 1000)),
    ])
    expect(retries.map((r) => r.kind).sort()).toEqual(['conflict', 'requeued'])
    const record = await store.getMessage('msg_f')
    expect(record?.status).toBe('queued')
    expect(record?.attempts).toBe(0)
    expect(record?.recipients.map((r) => r.status)).toEqual(['pending', 'bounced', 'sent'])
    expect(record?.events.at(-1)?.type).toBe('retry')
    expect(await db.redis.ttl(createKeys(db.prefix).message('msg_f'))).toBe(-1)
    expect(await searchAll({ status: 'failed' })).toEqual([])
    expect(await searchAll({ status: 'queued' })).toEqual(['msg_f'])
    const claimed = await store.claimMessage('msg_f', 'tok2', new Date(t0.getTime() + 2000))
    expect(claimed.kind === 'claimed' ? claimed.message.retriedAt : null).toEqual(
      new Date(t0.getTime() + 1000),
    )
  })
})
