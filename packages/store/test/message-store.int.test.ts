import { beforeEach, describe, expect, it } from 'vitest'
import {
  createKeys,
  createMessageStore,
  createStatsStore,
  IDEMPOTENCY_TTL_SECONDS,
  MESSAGE_RETENTION_SECONDS,
  type MessageStore,
  type NewMessage,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()
let store: MessageStore
const t0 = new Date('2026-01-01T10:00:00Z')
const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000)

function newMessage(id: string): NewMessage {
  return {
    id,
    stream: 'transactional',
    status: 'queued',
    createdAt: t0,
    scheduledAt: null,
    request: {
      from: 'ann@shop.example',
      to: ['bob@example.com'],
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
    },
    content: { text: 'hi', html: null, attachments: [] },
    recipients: [
      {
        address: 'bob@example.com',
        field: 'to',
        status: 'pending',
        smtpCode: null,
        enhancedCode: null,
        diagnostic: null,
      },
    ],
  }
}

beforeEach(() => {
  store = createMessageStore(db.redis, db.prefix)
})

describe('createMessageStore', () => {
  it('writes a record once and reads it back without its content', async () => {
    expect(await store.createMessage(newMessage('msg_1'))).toBe(true)
    expect(await store.createMessage({ ...newMessage('msg_1'), stream: 'mass' })).toBe(false)
    const record = await store.getMessage('msg_1')
    expect(record).toMatchObject({
      id: 'msg_1',
      stream: 'transactional',
      status: 'queued',
      attempts: 0,
    })
    expect(record?.events).toEqual([{ at: t0.toISOString(), type: 'queued', detail: null }])
    expect(await store.getMessageContent('msg_1')).toEqual({
      text: 'hi',
      html: null,
      attachments: [],
    })
    expect(await store.getMessage('msg_unknown')).toBeNull()
  })

  it('writes a batch over many shards in one go: new records with their indexes and counts, existing ones untouched', async () => {
    await store.createMessage(newMessage('msg_b3'))
    const ids = Array.from({ length: 40 }, (_, i) => `msg_b${i}`)
    const created = await store.createMessages(
      ids.map((id, i) => ({
        ...newMessage(id),
        stream: i % 2 === 0 ? 'mass' : 'transactional',
        request: { ...newMessage(id).request, tags: [`t${i % 3}`] },
      })),
    )
    expect(created).toEqual(ids.map((id) => id !== 'msg_b3'))
    // The record that existed keeps what it had; it is counted once.
    expect((await store.getMessage('msg_b3'))?.stream).toBe('transactional')
    expect((await store.getMessage('msg_b4'))?.stream).toBe('mass')
    const tagged = async (tag: string) =>
      (await store.searchMessages({ tag }, 100, null)).rows.map((row) => row.id).sort()
    expect(await tagged('t1')).toEqual(ids.filter((_, i) => i % 3 === 1).sort())
    // msg_b3 was written without tags, and stays so.
    expect(await tagged('t0')).toEqual(ids.filter((_, i) => i % 3 === 0 && i !== 3).sort())
    const [bucket] = await createStatsStore(db.redis, db.prefix).readStats({
      since: t0,
      until: later(1),
      interval: 'hour',
    })
    expect(bucket?.accepted).toBe(40)
    // The pending index holds every new message (the sweeper finds one whose job went missing).
    expect((await store.duePending(later(1), 100)).map((entry) => entry.id).sort()).toEqual(
      [...ids].sort(),
    )
  })

  it('lets only the claiming attempt commit and record an outcome', async () => {
    await store.createMessage(newMessage('msg_2'))
    // A claim reads what the attempt needs in the same step.
    expect(await store.claimMessage('msg_2', 'token-a', later(1))).toMatchObject({
      kind: 'claimed',
      message: {
        id: 'msg_2',
        stream: 'transactional',
        attempts: 1,
        request: { from: 'ann@shop.example', subject: 'Hello' },
        recipients: [{ address: 'bob@example.com', status: 'pending' }],
        content: { text: 'hi' },
      },
    })
    expect(await store.commitHandoff('msg_2', 'token-b', later(2))).toBe(false)
    expect(
      await store.commitHandoff('msg_2', 'token-a', later(2), {
        serverId: 'srv_1',
        headerFrom: 'n@shop.example',
        envelopeFrom: 'bounce@shop.example',
      }),
    ).toBe(true)
    // The commit records how the message is sent, before any reply.
    expect(await store.getMessage('msg_2')).toMatchObject({
      serverId: 'srv_1',
      headerFrom: 'n@shop.example',
      envelopeFrom: 'bounce@shop.example',
    })
    const outcome = {
      status: 'sent',
      event: { type: 'sent', detail: '250 ok' },
      sentAt: later(3),
      smtpResponse: '250 ok',
    } as const
    expect(await store.recordOutcome('msg_2', 'token-b', outcome, later(3))).toBe(false)
    expect(await store.recordOutcome('msg_2', 'token-a', outcome, later(3))).toBe(true)
    const record = await store.getMessage('msg_2')
    expect(record).toMatchObject({ status: 'sent', handoff: null, smtpResponse: '250 ok' })
    expect(record?.events.map((event) => event.type)).toEqual(['queued', 'sending', 'sent'])
    expect(await store.claimMessage('msg_2', 'token-c', later(4))).toEqual({
      kind: 'final',
      status: 'sent',
    })
    const ttl = await db.redis.ttl(createKeys(db.prefix).message('msg_2'))
    expect(ttl).toBeGreaterThan(MESSAGE_RETENTION_SECONDS - 10)
  })

  it('hands an interrupted attempt over before the point of no return, never after', async () => {
    await store.createMessage(newMessage('msg_3'))
    await store.claimMessage('msg_3', 'token-a', later(1))
    // Attempt A lost its job lock while connecting: B takes over, and A may no longer commit.
    expect(await store.claimMessage('msg_3', 'token-b', later(2))).toMatchObject({
      kind: 'claimed',
      message: { attempts: 2 },
    })
    expect(await store.commitHandoff('msg_3', 'token-a', later(3))).toBe(false)
    expect(await store.commitHandoff('msg_3', 'token-b', later(3))).toBe(true)
    // B may already have handed it over: C must not claim it.
    expect(await store.claimMessage('msg_3', 'token-c', later(4))).toEqual({
      kind: 'committing',
      token: 'token-b',
      committedAt: later(3),
      recipients: [expect.objectContaining({ address: 'bob@example.com', status: 'pending' })],
      // What the events of C's outcome say of the message.
      summary: expect.objectContaining({ messageId: 'msg_3', stream: 'transactional' }) as unknown,
    })
  })

  it('cancels before the point of no return and refuses after it', async () => {
    await store.createMessage(newMessage('msg_4'))
    expect(await store.cancelMessage('msg_4', later(1))).toEqual({
      kind: 'canceled',
      previous: 'queued',
    })
    expect(await store.claimMessage('msg_4', 'token-a', later(2))).toEqual({
      kind: 'final',
      status: 'canceled',
    })
    // Fidelity: the recipients of a canceled message say they were canceled, not pending.
    expect((await store.getMessage('msg_4'))?.recipients.map((r) => r.status)).toEqual(['canceled'])

    await store.createMessage(newMessage('msg_5'))
    await store.claimMessage('msg_5', 'token-a', later(1))
    await store.commitHandoff('msg_5', 'token-a', later(2))
    expect(await store.cancelMessage('msg_5', later(3))).toEqual({
      kind: 'conflict',
      status: 'sending',
    })
    expect(await store.cancelMessage('msg_none', later(3))).toEqual({ kind: 'missing' })
  })

  it('makes a cancel during connecting win over the attempt', async () => {
    await store.createMessage(newMessage('msg_6'))
    await store.claimMessage('msg_6', 'token-a', later(1))
    expect((await store.cancelMessage('msg_6', later(2))).kind).toBe('canceled')
    expect(await store.commitHandoff('msg_6', 'token-a', later(3))).toBe(false)
  })

  it("keeps a message in its shard's pending index while it waits for an attempt", async () => {
    const message = { ...newMessage('msg_7'), createdAt: later(0) }
    await store.createMessage(message)
    const due = async () => (await store.duePending(later(10), 100)).map((entry) => entry.id)
    expect(await due()).toEqual(['msg_7'])
    await store.claimMessage('msg_7', 'token-a', later(1))
    expect(await due()).toEqual([])
    await store.recordOutcome(
      'msg_7',
      'token-a',
      { status: 'deferred', deferredUntil: later(5), event: { type: 'deferred', detail: null } },
      later(2),
    )
    expect(await store.duePending(later(10), 100)).toEqual([{ id: 'msg_7', due: later(5) }])
    expect(await store.statusesOf(['msg_7', 'msg_none'])).toEqual([
      { status: 'deferred', stream: 'transactional' },
      null,
    ])
    await store.cancelMessage('msg_7', later(3))
    expect(await due()).toEqual([])
  })

  it('keeps the first idempotency entry for 24 hours', async () => {
    const first = {
      bodyHash: 'h1',
      messageId: 'msg_a',
      response: { id: 'msg_a', status: 'queued', stream: 'mass' },
    }
    const second = { ...first, bodyHash: 'h2', messageId: 'msg_b' }
    expect(await store.reserveIdempotencyKey('client', 'key-1', first)).toEqual({
      stored: true,
      entry: first,
    })
    expect(await store.reserveIdempotencyKey('client', 'key-1', second)).toEqual({
      stored: false,
      entry: first,
    })
    expect(await store.reserveIdempotencyKey('other-client', 'key-1', second)).toEqual({
      stored: true,
      entry: second,
    })
    const [key] = await db.redis.keys(`${db.prefix}:idem:*`)
    expect(await db.redis.ttl(key ?? '')).toBeGreaterThan(IDEMPOTENCY_TTL_SECONDS - 10)
  })
})
