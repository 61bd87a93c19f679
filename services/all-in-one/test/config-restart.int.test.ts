import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, type LocalRedis, startLocalRedis } from '@outbound/local-redis'
import { waitFor } from '@outbound/testing'
import { startApi, stopService } from './helpers/processes.js'

// Before, an API whose Redis came back empty kept serving the configuration it had read before
// (the version counted from 1 again, below the one it held): new alias domains never appeared,
// deleted ones stayed. Two API processes share the Redis: one writes, the other is watched.
// (`GET /v1/alias-domains/:id` answers from the process's cache without reading Redis.)

const running: ChildProcess[] = []
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  await Promise.all(running.splice(0).map((child) => stopService(child)))
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function redisOn(port: number, dataDir: string): Promise<LocalRedis> {
  const redis = await startLocalRedis({
    dataDir,
    appendOnly: false,
    searchPath: process.env['PATH'] ?? '',
    port,
  })
  cleanups.push(() => redis.stop())
  return redis
}

async function apiOn(redisUrl: string): Promise<string> {
  const { child, base } = await startApi({ REDIS_URL: redisUrl })
  running.push(child)
  return base
}

async function createAliasDomain(base: string, name: string): Promise<string> {
  const response = await fetch(`${base}/v1/alias-domains`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })
  if (response.status !== 201) throw new Error(`creating ${name}: ${await response.text()}`)
  const { id } = (await response.json()) as { id: string }
  return id
}

const statusOf = async (url: string) => (await fetch(url)).status

/** Two APIs on a private Redis holding one alias domain, and that Redis stopped. */
async function apisWithOldConfiguration() {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'outbound-config-restart-'))
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
  const first = await redisOn(port, dataDir)
  const [writer, watched] = [await apiOn(first.url), await apiOn(first.url)]
  const oldId = await createAliasDomain(writer, 'old.example')
  await waitFor(async () => (await statusOf(`${watched}/v1/alias-domains/${oldId}`)) === 200, {
    timeoutMs: 5000,
    what: 'the watched API to serve the first alias domain',
  })
  await first.stop()
  return { port, dataDir, writer, watched, oldId }
}

describe('an API whose Redis restarted empty', () => {
  it('serves the configuration written after the restart within about a second', async () => {
    const { port, dataDir, writer, watched, oldId } = await apisWithOldConfiguration()
    await redisOn(port, dataDir)
    const newId = await waitFor(
      () => createAliasDomain(writer, 'new.example').catch(() => undefined),
      { timeoutMs: 10_000, what: 'the writing API to reconnect' },
    )
    const written = Date.now()
    await waitFor(async () => (await statusOf(`${watched}/v1/alias-domains/${newId}`)) === 200, {
      timeoutMs: 5000,
      what: 'the watched API to serve the new alias domain',
    })
    const noticedMs = Date.now() - written
    console.info(`API: new configuration after a Redis restart served after ${noticedMs} ms`)
    expect(await statusOf(`${watched}/v1/alias-domains/${oldId}`)).toBe(404)
    expect(noticedMs).toBeLessThan(2000)
  })

  it('serves the empty configuration of a Redis restarted with no writes at all', async () => {
    const { port, dataDir, watched, oldId } = await apisWithOldConfiguration()
    await redisOn(port, dataDir)
    const restarted = Date.now()
    await waitFor(async () => (await statusOf(`${watched}/v1/alias-domains/${oldId}`)) === 404, {
      timeoutMs: 5000,
      what: 'the watched API to drop the old alias domain',
    })
    const noticedMs = Date.now() - restarted
    console.info(`API: empty configuration after a Redis restart served after ${noticedMs} ms`)
    expect(noticedMs).toBeLessThan(2500)
  })
})
