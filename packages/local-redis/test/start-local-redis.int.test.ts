import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { HOW_TO_GET_REDIS, startLocalRedis } from '@outbound/local-redis'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbound-local-redis-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('startLocalRedis', () => {
  it('starts redis-server from PATH with AOF in the data dir, and keeps the data across a restart', async () => {
    const dataDir = tempDir()
    const first = await startLocalRedis({
      dataDir,
      appendOnly: true,
      searchPath: process.env['PATH'] ?? '',
    })
    expect(first.kind).toBe('redis-server')
    const client = new Redis(first.url)
    await client.set('outbound-test:kept', 'yes')
    client.disconnect()
    await first.stop()
    expect(readdirSync(dataDir)).toContain('appendonlydir')

    const second = await startLocalRedis({
      dataDir,
      appendOnly: true,
      searchPath: process.env['PATH'] ?? '',
    })
    const again = new Redis(second.url)
    expect(await again.get('outbound-test:kept')).toBe('yes')
    again.disconnect()
    await second.stop()
  })

  it('says how to get Redis when there is no redis-server and no Docker engine', async () => {
    // An empty search path hides redis-server; this machine has no Docker engine.
    await expect(
      startLocalRedis({ dataDir: tempDir(), appendOnly: false, searchPath: '' }),
    ).rejects.toThrow(HOW_TO_GET_REDIS)
  })
})
