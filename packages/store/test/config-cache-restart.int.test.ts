import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, type LocalRedis, startLocalRedis } from '@outbound/local-redis'
import { waitFor } from '@outbound/testing'
import {
  type AliasDomainRecord,
  type ConfigCache,
  createConfigCache,
  createConfigStore,
} from '@outbound/store'

// Before, the cache took a snapshot only when its version was at least the one it held: after
// Redis came back empty (the version counting from 1 again) it kept serving the old configuration.

const at = '2026-01-01T00:00:00.000Z'
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

const opened: { close(): unknown }[] = []
const dataDir = mkdtempSync(join(tmpdir(), 'outbound-restart-'))
let redisServer: LocalRedis | undefined

async function startRedis(port: number): Promise<LocalRedis> {
  redisServer = await startLocalRedis({
    dataDir,
    appendOnly: false,
    searchPath: process.env['PATH'] ?? '',
    port,
  })
  return redisServer
}

function connect(url: string): Redis {
  // Reconnect quickly, as a process's connection would after a short outage.
  const redis = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null })
  redis.on('error', () => undefined) // refused connections while the server is down are expected
  opened.push({ close: () => redis.disconnect() })
  return redis
}

async function openCache(url: string): Promise<ConfigCache> {
  const store = createConfigStore(connect(url), 'outbound')
  const cache = await createConfigCache(store, connect(url))
  opened.push({ close: () => cache.close() })
  return cache
}

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close()
  await redisServer?.stop()
  redisServer = undefined
})

describe('createConfigCache after Redis lost its data', () => {
  it('serves the new configuration of a Redis restarted empty within about a second', async () => {
    const port = await freePort()
    const first = await startRedis(port)
    const writer = createConfigStore(connect(first.url), 'outbound')
    await writer.createAliasDomain(aliasDomain('ad_old', 'old.example'), 500)
    await writer.createAliasDomain(aliasDomain('ad_gone', 'gone.example'), 500)
    await writer.updateSettings((s) => ({ ...s, defaultDailyLimit: 7 }))
    const cache = await openCache(first.url)
    expect(cache.current().aliasDomains).toHaveLength(2)
    expect(cache.current().version).toBe(3)

    await first.stop()
    await startRedis(port)
    // One write: the version (1) is lower than the one the cache holds (3).
    await writer.createAliasDomain(aliasDomain('ad_new', 'new.example'), 500)
    const started = Date.now()
    await waitFor(() => cache.current().aliasDomains.some((d) => d.id === 'ad_new'), {
      timeoutMs: 3000,
      what: 'the cache to serve the new configuration',
    })
    const noticedMs = Date.now() - started
    console.info(`restarted Redis, one write: noticed after ${noticedMs} ms`)
    expect(cache.current().aliasDomains.map((d) => d.id)).toEqual(['ad_new'])
    expect(cache.current().settings.defaultDailyLimit).toBe(200)
    expect(noticedMs).toBeLessThan(2000)
  })

  it('serves the empty configuration of a Redis restarted empty with no writes at all', async () => {
    const port = await freePort()
    const first = await startRedis(port)
    const writer = createConfigStore(connect(first.url), 'outbound')
    await writer.createAliasDomain(aliasDomain('ad_old', 'old.example'), 500)
    const cache = await openCache(first.url)
    expect(cache.current().aliasDomains).toHaveLength(1)

    await first.stop()
    const started = Date.now()
    await startRedis(port)
    await waitFor(() => cache.current().aliasDomains.length === 0, {
      timeoutMs: 3000,
      what: 'the cache to serve the empty configuration',
    })
    const noticedMs = Date.now() - started
    console.info(`restarted Redis, no write: noticed after ${noticedMs} ms`)
    expect(cache.current().version).toBe(0)
    expect(noticedMs).toBeLessThan(2000)
  })

  it('serves the new configuration when the version climbed back to the one it held', async () => {
    const port = await freePort()
    const first = await startRedis(port)
    const writer = createConfigStore(connect(first.url), 'outbound')
    await writer.createAliasDomain(aliasDomain('ad_old', 'old.example'), 500)
    const cache = await openCache(first.url)
    expect(cache.current().version).toBe(1)

    await first.stop()
    await startRedis(port)
    // Written straight into Redis without a notification: only the write id tells them apart.
    const fresh = connect(redisServer?.url ?? '')
    await fresh.hset(
      'outbound:{config}:alias-domains',
      'ad_new',
      JSON.stringify(aliasDomain('ad_new', 'new.example')),
    )
    await fresh.set('outbound:{config}:version', '1')
    await fresh.set('outbound:{config}:write-id', 'another-write')
    await waitFor(() => cache.current().aliasDomains.some((d) => d.id === 'ad_new'), {
      timeoutMs: 3000,
      what: 'the cache to tell the two configurations apart',
    })
  })
})

process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }))
