import { Redis } from 'ioredis'
import { beforeEach, describe, expect, it } from 'vitest'
import { waitFor } from '@outbound/testing'
import {
  type AliasDomainRecord,
  type Company,
  createConfigCache,
  createConfigStore,
  type ConfigStore,
  DEFAULT_SETTINGS,
  type OutgoingServer,
} from '@outbound/store'
import { useTestDatabase } from './helpers/test-redis.js'

const db = useTestDatabase()
let store: ConfigStore
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
const aliasDomain: AliasDomainRecord = {
  id: 'ad_1',
  name: 'shop.example',
  sequence: 10,
  bounceAlias: 'bounce',
  catchallAlias: 'catchall',
  defaultFrom: 'notifications',
  createdAt: at,
  updatedAt: at,
}
const company = (aliasDomainId: string | null): Company => ({
  id: 'co_1',
  name: 'Shop',
  aliasDomainId,
  createdAt: at,
  updatedAt: at,
})

beforeEach(() => {
  store = createConfigStore(db.redis, db.prefix)
})

describe('createConfigStore', () => {
  it('starts empty with the default settings, and bumps the version on every write', async () => {
    expect(await store.readSnapshot()).toEqual({
      version: 0,
      writeId: '',
      servers: [],
      aliasDomains: [],
      companies: [],
      webhooks: [],
      settings: DEFAULT_SETTINGS,
    })
    await store.putServer(outgoing('srv_1'))
    await store.putAliasDomain(aliasDomain)
    const snapshot = await store.readSnapshot()
    expect(snapshot.version).toBe(2)
    expect(snapshot.servers).toEqual([outgoing('srv_1')])
    expect(snapshot.aliasDomains).toEqual([aliasDomain])
  })

  it('refuses to delete the dedicated mass server, and settings naming a missing server', async () => {
    await store.putServer(outgoing('srv_1'))
    expect(
      await store.putSettings({ ...DEFAULT_SETTINGS, massDedicatedServerId: 'srv_none' }),
    ).toBe('missing-reference')
    expect(await store.putSettings({ ...DEFAULT_SETTINGS, massDedicatedServerId: 'srv_1' })).toBe(
      'ok',
    )
    expect(await store.deleteServer('srv_1')).toBe('referenced')
    await store.putSettings(DEFAULT_SETTINGS)
    expect(await store.deleteServer('srv_1')).toBe('deleted')
    expect(await store.deleteServer('srv_1')).toBe('missing')
  })

  it('refuses a company with a missing alias domain, and deleting an alias domain in use', async () => {
    expect(await store.putCompany(company('ad_1'))).toBe('missing-reference')
    await store.putAliasDomain(aliasDomain)
    expect(await store.putCompany(company('ad_1'))).toBe('ok')
    expect(await store.deleteAliasDomain('ad_1')).toBe('referenced')
    await store.putCompany(company(null))
    expect(await store.deleteAliasDomain('ad_1')).toBe('deleted')
  })
})

describe('createConfigCache', () => {
  it('follows a write made through another connection within a second', async () => {
    const subscriber = new Redis(db.url)
    const cache = await createConfigCache(
      createConfigStore(new Redis(db.url), db.prefix),
      subscriber,
    )
    try {
      expect(cache.current().servers).toEqual([])
      const started = Date.now()
      await store.putServer(outgoing('srv_new'))
      await waitFor(() => cache.current().servers.length === 1, {
        timeoutMs: 1000,
        what: 'the cache to follow',
      })
      expect(Date.now() - started).toBeLessThan(1000)
    } finally {
      await cache.close()
      subscriber.disconnect()
    }
  })

  it('catches up by polling the version when a notification was missed', async () => {
    const subscriber = new Redis(db.url)
    const cache = await createConfigCache(createConfigStore(db.redis, db.prefix), subscriber, {
      pollMs: 100,
    })
    try {
      // A write that bumps the version without publishing, as if the message were lost.
      await db.redis.hset(
        `${db.prefix}:{config}:servers`,
        'srv_quiet',
        JSON.stringify(outgoing('srv_quiet')),
      )
      await db.redis.incr(`${db.prefix}:{config}:version`)
      await waitFor(() => cache.current().servers.length === 1, {
        timeoutMs: 1000,
        what: 'the poll',
      })
    } finally {
      await cache.close()
      subscriber.disconnect()
    }
  })
})
