import { describe, expect, it } from 'vitest'
import type { WebhookEvent } from '@outbound/jobs'
import {
  createBounceStore,
  createComplaintStore,
  createKeys,
  createMessageStore,
  createStatsStore,
  MESSAGE_SHARDS,
  type NewMessage,
  type Recipient,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()

const HOUR = 3_600_000
const at = new Date('2026-12-01T10:15:00.000Z')

function recipient(address: string, status: Recipient['status'] = 'pending'): Recipient {
  return { address, field: 'to', status, smtpCode: null, enhancedCode: null, diagnostic: null }
}

function message(
  id: string,
  stream: 'transactional' | 'mass',
  recipients: Recipient[],
): NewMessage {
  return {
    id,
    stream,
    status: 'queued',
    createdAt: at,
    scheduledAt: null,
    request: {
      from: 'ann@shop.example',
      to: recipients.map((r) => r.address),
      cc: [],
      bcc: [],
      replyTo: null,
      subject: id,
      headers: {},
      companyId: null,
      serverId: null,
      reference: null,
      tags: [],
      metadata: {},
      messageIdHeader: `<${id}@shop.example>`,
    },
    content: { text: 'x', html: null, attachments: [] },
    recipients,
  }
}

function event(id: string, type: WebhookEvent['type'] = 'reputation.warning'): WebhookEvent {
  return { id, type, timestamp: at.toISOString(), data: {} }
}

/** Every event of every shard's stream, by type. */
async function eventTypes(): Promise<string[]> {
  const keys = createKeys(db.prefix)
  const types: string[] = []
  for (let shard = 0; shard < MESSAGE_SHARDS; shard += 1) {
    for (const [, fields] of await db.redis.xrange(keys.events(shard), '-', '+')) {
      const json = fields[fields.indexOf('e') + 1] ?? '{}'
      types.push((JSON.parse(json) as { type: string }).type)
    }
  }
  return types.sort()
}

describe('stats counters', () => {
  it('count acceptance, outcomes, cancellations and late bounces in the steps that record them, summed over shards', async () => {
    const store = createMessageStore(db.redis, db.prefix)
    const bounces = createBounceStore(db.redis, db.prefix)
    const stats = createStatsStore(db.redis, db.prefix)
    // Ids spread over several shards.
    const ids = Array.from({ length: 6 }, (_, i) => `msg_stats_${i}`)
    for (const id of ids.slice(0, 5))
      await store.createMessage(message(id, 'transactional', [recipient(`${id}@x.test`)]))
    await store.createMessage(
      message(ids[5] ?? '', 'mass', [recipient('m1@x.test'), recipient('m2@x.test', 'suppressed')]),
    )
    // Three sent through srv_a, one of them deferred first.
    for (const id of ids.slice(0, 3)) {
      await store.claimMessage(id, 't', at)
      await store.recordOutcome(
        id,
        't',
        {
          status: 'sent',
          serverId: 'srv_a',
          recipients: [recipient(`${id}@x.test`, 'sent')],
          event: { type: 'sent', detail: null },
          counts: { sent: 1, ...(id === ids[0] ? { deferred: 1 } : {}) },
        },
        new Date(at.getTime() + HOUR),
      )
    }
    // An outcome whose claim was lost is not recorded, and not counted.
    expect(
      await store.recordOutcome(
        ids[3] ?? '',
        'not-the-claim',
        { status: 'sent', event: { type: 'sent', detail: null }, counts: { sent: 5 } },
        at,
      ),
    ).toBe(false)
    expect((await store.cancelMessage(ids[3] ?? '', at)).kind).toBe('canceled')
    // A late hard bounce on a sent message.
    await bounces.updateRecipients(
      ids[1] ?? '',
      { [`${ids[1]}@x.test`]: { status: 'bounced' } },
      { type: 'bounced', detail: 'dsn' },
      at,
      [],
      { 'bounced.hard': 1 },
    )
    // The mass message through srv_b: one suppressed at the door (counted at acceptance), one
    // bounced soft at the attempt.
    await store.claimMessage(ids[5] ?? '', 't', at)
    await store.recordOutcome(
      ids[5] ?? '',
      't',
      {
        status: 'bounced',
        serverId: 'srv_b',
        event: { type: 'bounced', detail: null },
        counts: { 'bounced.soft': 1 },
      },
      at,
    )

    const [day] = await stats.readStats({
      since: at,
      until: new Date(at.getTime() + 1),
      interval: 'day',
    })
    expect(day).toEqual({
      start: '2026-12-01T00:00:00.000Z',
      accepted: 6,
      sent: 3,
      deferred: 1,
      bounced: { hard: 1, soft: 1 },
      failed: 0,
      suppressed: 1,
      canceled: 1,
      complained: 0,
      unsubscribed: 0,
    })
    // Until the start of 12:00: the buckets of 10:00 and 11:00.
    const hours = await stats.readStats({
      since: at,
      until: new Date('2026-12-01T12:00:00.000Z'),
      interval: 'hour',
    })
    expect(hours.map((b) => [b.start, b.accepted, b.sent])).toEqual([
      ['2026-12-01T10:00:00.000Z', 6, 0],
      ['2026-12-01T11:00:00.000Z', 0, 3],
    ])
    const mass = await stats.readStats({
      since: at,
      until: new Date(at.getTime() + 1),
      interval: 'day',
      stream: 'mass',
    })
    expect(mass[0]).toMatchObject({ accepted: 1, suppressed: 1, bounced: { hard: 0, soft: 1 } })
    const srvA = await stats.readStats({
      since: at,
      until: new Date(at.getTime() + 1),
      interval: 'day',
      serverId: 'srv_a',
    })
    // Acceptance is counted before a server is chosen: under no server.
    expect(srvA[0]).toMatchObject({ accepted: 0, sent: 3, deferred: 1, bounced: { hard: 1 } })

    // Every bucket key expires 400 days after its bucket ends.
    const keys = createKeys(db.prefix)
    const bucketKeys = await db.redis.keys(`${db.prefix}:*:stats:*`)
    expect(bucketKeys.length).toBeGreaterThan(0)
    for (const key of bucketKeys) {
      const ttl = await db.redis.expiretime(key)
      const hourly = key.includes(':stats:hour:')
      const start = Date.parse(
        `${key.slice(key.lastIndexOf(':') + 1)}${hourly ? ':00:00Z' : 'T00:00:00Z'}`,
      )
      expect(ttl * 1000).toBe(start + (hourly ? HOUR : 24 * HOUR) + 400 * 24 * HOUR)
    }
    expect(keys.statsBucket(0, 'hour', '2026-12-01T10')).toBe(
      `${db.prefix}:{m0}:stats:hour:2026-12-01T10`,
    )
  })
})

describe('complaint rates and reputation levels', () => {
  it('sum sent and complained per server over the last 24 hourly buckets', async () => {
    const store = createMessageStore(db.redis, db.prefix)
    const complaints = createComplaintStore(db.redis, db.prefix)
    const stats = createStatsStore(db.redis, db.prefix)
    // Sent 25 h ago: outside the window; sent now: inside.
    for (const [id, when] of [
      ['msg_old', new Date(at.getTime() - 25 * HOUR)],
      ['msg_new', at],
    ] as const) {
      await store.createMessage(message(id, 'transactional', [recipient(`${id}@x.test`)]))
      await store.claimMessage(id, 't', when)
      await store.recordOutcome(
        id,
        't',
        {
          status: 'sent',
          serverId: 'srv_a',
          event: { type: 'sent', detail: null },
          counts: { sent: 1 },
        },
        when,
      )
    }
    await complaints.recordComplaint(
      {
        id: 'cmp_1',
        messageId: 'msg_new',
        recipient: 'msg_new@x.test',
        feedbackType: 'abuse',
        serverId: 'srv_a',
        stream: 'transactional',
        originalMessageId: null,
        reportingMta: null,
        userAgent: null,
        sourceIp: null,
        arrivalDate: null,
        at: at.toISOString(),
      },
      null,
    )
    expect(await stats.complaintCounts(at)).toEqual([
      { serverId: 'srv_a', complained: 1, delivered: 1 },
    ])
  })

  it('append a warning once per upward crossing, whichever caller sees it, and re-arm it after a fall', async () => {
    const stats = createStatsStore(db.redis, db.prefix)
    const warnings = [event('evt_low'), event('evt_high')] as const
    expect(await stats.recordReputationLevel('srv_a', 1, warnings)).toBe(0)
    expect(await stats.recordReputationLevel('srv_a', 1, warnings)).toBe(1)
    expect(await eventTypes()).toEqual(['reputation.warning'])
    // Straight from 1 to 2: the second threshold's warning only.
    await Promise.all([
      stats.recordReputationLevel('srv_a', 2, [event('evt_x'), event('evt_y')]),
      stats.recordReputationLevel('srv_a', 2, [event('evt_x2'), event('evt_y2')]),
    ])
    expect(await eventTypes()).toHaveLength(2)
    // Back under both thresholds, then over the first again: warned again.
    await stats.recordReputationLevel('srv_a', 0, warnings)
    await stats.recordReputationLevel('srv_a', 1, warnings)
    expect(await eventTypes()).toHaveLength(3)
  })
})

describe('createComplaintStore', () => {
  const complaint = (
    id: string,
    messageId: string | null,
    recipientAddress: string,
    when: Date,
  ) => ({
    id,
    messageId,
    recipient: recipientAddress,
    feedbackType: 'abuse',
    serverId: messageId === null ? null : 'srv_a',
    stream: messageId === null ? null : 'transactional',
    originalMessageId:
      messageId === null ? '<theirs@elsewhere.example>' : `<${messageId}@shop.example>`,
    reportingMta: 'mail.example.net',
    userAgent: null,
    sourceIp: null,
    arrivalDate: null,
    at: when.toISOString(),
  })

  it('stores a report once per original and recipient, with its event and its message record event', async () => {
    const store = createMessageStore(db.redis, db.prefix)
    const complaints = createComplaintStore(db.redis, db.prefix)
    await store.createMessage(message('msg_c', 'transactional', [recipient('c@x.test')]))
    const first = await complaints.recordComplaint(
      complaint('cmp_a', 'msg_c', 'c@x.test', at),
      event('evt_c', 'email.complained'),
    )
    const again = await complaints.recordComplaint(
      complaint('cmp_b', 'msg_c', 'c@x.test', new Date(at.getTime() + 1000)),
      event('evt_c2', 'email.complained'),
    )
    expect(first).toMatchObject({ stored: true, record: { id: 'cmp_a' } })
    expect(again).toMatchObject({ stored: false, record: { id: 'cmp_a' } })
    expect(await eventTypes()).toEqual(['email.complained'])
    expect((await store.getMessage('msg_c'))?.events.map((e) => e.type)).toEqual([
      'queued',
      'complained',
    ])
    const stats = createStatsStore(db.redis, db.prefix)
    const [day] = await stats.readStats({
      since: at,
      until: new Date(at.getTime() + 1),
      interval: 'day',
    })
    expect(day?.complained).toBe(1)
  })

  it('lists complaints of every shard newest first, since a time, at most limit', async () => {
    const complaints = createComplaintStore(db.redis, db.prefix)
    for (let i = 0; i < 8; i += 1)
      await complaints.recordComplaint(
        complaint(`cmp_${i}`, null, `r${i}@x.test`, new Date(at.getTime() + i * 1000)),
        null,
      )
    expect((await complaints.listComplaints({ limit: 3 })).map((c) => c.id)).toEqual([
      'cmp_7',
      'cmp_6',
      'cmp_5',
    ])
    const since = await complaints.listComplaints({
      since: new Date(at.getTime() + 6000),
      limit: 100,
    })
    expect(since.map((c) => c.id)).toEqual(['cmp_7', 'cmp_6'])
  })
})
