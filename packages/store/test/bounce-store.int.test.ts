import { beforeEach, describe, expect, it } from 'vitest'
import {
  BOUNCE_RETENTION_DAYS,
  type BounceRecord,
  type BounceStore,
  createBounceStore,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()
let bounces: BounceStore

beforeEach(() => {
  bounces = createBounceStore(db.redis, db.prefix)
})

const day = 86_400_000
const start = Date.parse('2026-01-05T10:00:00Z')

function bounce(id: string, recipient: string, at: number, messageId: string | null = null) {
  const record: BounceRecord = {
    id,
    messageId,
    recipient,
    kind: 'soft',
    permanent: false,
    reason: 'mailbox_full',
    source: 'smtp',
    smtpCode: 452,
    enhancedCode: '4.2.2',
    diagnostic: '452 4.2.2 mailbox full',
    rule: 'mailbox-full',
    at: new Date(at).toISOString(),
  }
  return record
}

describe('bounce retention', () => {
  it(`keeps records ${BOUNCE_RETENTION_DAYS} days, then removes them as new bounces arrive`, async () => {
    expect(await bounces.recordBounce(bounce('b1', 'ann@example.com', start, 'msg_1'))).toBe(1)
    expect(await bounces.recordBounce(bounce('b2', 'ann@example.com', start + day))).toBe(2)
    // Still inside the retention: everything is there.
    const inside = start + (BOUNCE_RETENTION_DAYS - 1) * day
    expect(await bounces.recordBounce(bounce('b3', 'bob@example.com', inside))).toBe(1)
    expect((await bounces.listBounces({ limit: 10 })).map((b) => b.id)).toEqual(['b3', 'b2', 'b1'])

    // A bounce past the retention of b1 (but not of b2) sweeps b1 out of every index.
    const later = start + BOUNCE_RETENTION_DAYS * day + day / 2
    expect(await bounces.recordBounce(bounce('b4', 'ann@example.com', later))).toBe(2)
    expect((await bounces.listBounces({ limit: 10 })).map((b) => b.id)).toEqual(['b4', 'b3', 'b2'])
    expect((await bounces.bounceHistory('ann@example.com')).map((b) => b.id)).toEqual(['b2', 'b4'])
    expect(await bounces.listBounces({ messageId: 'msg_1', limit: 10 })).toEqual([])
    expect(await db.redis.hexists(`${db.prefix}:{bounces}:records`, 'b1')).toBe(0)
    expect(await db.redis.zcard(`${db.prefix}:{bounces}:by-time`)).toBe(3)
  })

  it('lets the indexes of an address expire with its last record', async () => {
    await bounces.recordBounce(bounce('b1', 'ann@example.com', start, 'msg_1'))
    const retentionMs = BOUNCE_RETENTION_DAYS * day
    for (const key of [
      `${db.prefix}:{bounces}:address:ann@example.com`,
      `${db.prefix}:{bounces}:message:msg_1`,
    ]) {
      const ttl = await db.redis.pttl(key)
      expect(ttl).toBeGreaterThan(retentionMs - 60_000)
      expect(ttl).toBeLessThanOrEqual(retentionMs)
    }
  })
})

describe('the suppression list', () => {
  const suppression = (address: string, at: number) => ({
    address,
    reason: 'hard bounce',
    source: 'bounce' as const,
    createdAt: new Date(at).toISOString(),
  })

  it('lists newest first a page at a time, keeps the first reason, and forgets removed entries', async () => {
    for (const [i, address] of ['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test'].entries())
      expect(await bounces.addSuppression(suppression(address, start + i * day))).toBe(true)
    expect(await bounces.addSuppression({ ...suppression('b@x.test', start), reason: 'x' })).toBe(
      false,
    )
    const page = async (limit: number, offset: number) =>
      (await bounces.listSuppressions(limit, offset)).map((s) => s.address)
    expect(await page(2, 0)).toEqual(['d@x.test', 'c@x.test'])
    expect(await page(2, 2)).toEqual(['b@x.test', 'a@x.test'])
    expect(await page(2, 4)).toEqual([])
    expect((await bounces.getSuppression('b@x.test'))?.reason).toBe('hard bounce')

    expect(await bounces.removeSuppression('c@x.test')).toBe(true)
    expect(await bounces.removeSuppression('c@x.test')).toBe(false)
    expect(await page(10, 0)).toEqual(['d@x.test', 'b@x.test', 'a@x.test'])
    expect(await bounces.suppressedAmong(['c@x.test', 'd@x.test'])).toEqual(new Set(['d@x.test']))
  })
})
