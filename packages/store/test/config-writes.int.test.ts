import { describe, expect, it } from 'vitest'
import {
  type AliasDomainRecord,
  type Company,
  createConfigStore,
  DEFAULT_SETTINGS,
  type OutgoingServer,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

// Before these writes were atomic, concurrent read-change-write steps overwrote each other: ten
// PATCHes of different fields of one server kept only some of their changes.

const db = useTestDatabase()
const at = '2026-01-01T00:00:00.000Z'

const outgoing = (id: string): OutgoingServer => ({
  id,
  name: id,
  host: 'smtp.example',
  port: 587,
  security: 'starttls',
  username: null,
  passwordSealed: null,
  sequence: 10,
  fromFilter: null,
  dailyLimit: null,
  maxConnections: 5,
  active: true,
  createdAt: at,
  updatedAt: at,
})
const aliasDomain = (id: string, name: string): AliasDomainRecord => ({
  id,
  name,
  sequence: 10,
  bounceAlias: 'bounce',
  catchallAlias: 'catchall',
  defaultFrom: 'notifications',
  createdAt: at,
  updatedAt: at,
})
const company = (id: string, aliasDomainId: string | null): Company => ({
  id,
  name: id,
  aliasDomainId,
  createdAt: at,
  updatedAt: at,
})
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('configuration writes', () => {
  it('keeps every one of 10 concurrent changes to one server', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    await store.createServer(outgoing('srv_1'), 500)
    const results = await Promise.all(
      range(10).map((i) =>
        store.updateServer('srv_1', (current) => ({
          ...current,
          fromFilter: [current.fromFilter, `d${i}.example`].filter(Boolean).join(','),
          ...(i === 0 ? { name: 'renamed' } : {}),
          ...(i === 1 ? { port: 2525 } : {}),
        })),
      ),
    )
    expect(results.every((r) => r.status === 'ok')).toBe(true)
    const [server] = (await store.readSnapshot()).servers
    expect(server?.fromFilter?.split(',').sort()).toEqual(range(10).map((i) => `d${i}.example`))
    expect(server).toMatchObject({ name: 'renamed', port: 2525 })
  })

  it('keeps every one of 10 concurrent changes to the settings and to one company', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    await store.createCompany(company('co_1', null), 5000)
    await Promise.all(
      range(10).flatMap((i) => [
        store.updateSettings((current) => ({
          ...current,
          retrySchedule: { ...current.retrySchedule, mass: [...current.retrySchedule.mass, i] },
        })),
        store.updateCompany('co_1', (current) => ({ ...current, name: `${current.name}+${i}` })),
      ]),
    )
    const snapshot = await store.readSnapshot()
    expect(snapshot.settings.retrySchedule.mass.slice(-10).sort()).toEqual(range(10))
    expect(snapshot.companies[0]?.name.split('+').slice(1).sort()).toEqual(range(10).map(String))
  })

  it('creates one alias domain of 20 concurrent creations of one name', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    const results = await Promise.all(
      range(20).map((i) => store.createAliasDomain(aliasDomain(`ad_${i}`, 'shop.example'), 500)),
    )
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(1)
    expect(results.filter((r) => r.status === 'name-taken')).toHaveLength(19)
    expect((await store.readSnapshot()).aliasDomains).toHaveLength(1)
  })

  it('refuses a rename to a name another alias domain has, not one keeping its own', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    await store.createAliasDomain(aliasDomain('ad_1', 'a.example'), 500)
    await store.createAliasDomain(aliasDomain('ad_2', 'b.example'), 500)
    expect(
      (await store.updateAliasDomain('ad_2', (d) => ({ ...d, name: 'a.example' }))).status,
    ).toBe('name-taken')
    expect((await store.updateAliasDomain('ad_2', (d) => ({ ...d, sequence: 1 }))).status).toBe(
      'ok',
    )
  })

  it('never creates more objects than the limit, however many arrive at once', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    const results = await Promise.all(
      range(12).map((i) => store.createServer(outgoing(`srv_${i}`), 5)),
    )
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(5)
    expect(results.filter((r) => r.status === 'limit')).toHaveLength(7)
    expect((await store.readSnapshot()).servers).toHaveLength(5)
  })

  it('checks references inside the write', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    expect((await store.createCompany(company('co_1', 'ad_1'), 5000)).status).toBe(
      'missing-reference',
    )
    await store.createAliasDomain(aliasDomain('ad_1', 'shop.example'), 500)
    expect((await store.createCompany(company('co_1', 'ad_1'), 5000)).status).toBe('ok')
    expect(
      (await store.updateCompany('co_1', (c) => ({ ...c, aliasDomainId: 'ad_none' }))).status,
    ).toBe('missing-reference')
    expect(
      (await store.updateSettings((s) => ({ ...s, massDedicatedServerId: 'srv_none' }))).status,
    ).toBe('missing-reference')
    expect(await store.deleteAliasDomain('ad_1')).toBe('referenced')
  })

  it('answers missing for an update of an object that does not exist, writing nothing', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    expect((await store.updateServer('srv_none', (s) => s)).status).toBe('missing')
    expect((await store.readSnapshot()).version).toBe(0)
  })

  it('lets an error thrown by the change through untouched, writing nothing', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    await store.createServer(outgoing('srv_1'), 500)
    const refusal = new Error('refused by the change')
    await expect(
      store.updateServer('srv_1', () => {
        throw refusal
      }),
    ).rejects.toBe(refusal)
    expect((await store.readSnapshot()).version).toBe(1)
  })

  it('gives every write a new version and a new write id', async () => {
    const store = createConfigStore(db.redis, db.prefix)
    const stamps = [await store.readStamp()]
    await store.createServer(outgoing('srv_1'), 500)
    stamps.push(await store.readStamp())
    await store.updateSettings((s) => ({ ...s, defaultDailyLimit: 5 }))
    stamps.push(await store.readStamp())
    await store.deleteServer('srv_1')
    stamps.push(await store.readStamp())
    expect(stamps.map((s) => s.version)).toEqual([0, 1, 2, 3])
    expect(new Set(stamps.map((s) => s.writeId)).size).toBe(4)
    expect((await store.readSnapshot()).settings).toEqual({
      ...DEFAULT_SETTINGS,
      defaultDailyLimit: 5,
    })
  })
})
