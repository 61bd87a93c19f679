import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createRedis, waitForRedis } from '@outbound/runtime'
import { freePort, startLocalRedis } from '@outbound/local-redis'

describe('createRedis with redis+sentinel://', () => {
  it('finds the master through a sentinel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbound-sentinel-'))
    const master = await startLocalRedis({
      dataDir: join(dir, 'master'),
      appendOnly: false,
      searchPath: process.env['PATH'] ?? '',
    })
    const masterPort = new URL(master.url).port
    const sentinelPort = await freePort()
    writeFileSync(
      join(dir, 'sentinel.conf'),
      `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor outbound-test 127.0.0.1 ${masterPort} 1\n`,
    )
    const sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], {
      stdio: 'ignore',
    })
    const redis = createRedis(
      `redis+sentinel://127.0.0.1:${sentinelPort}/outbound-test`,
      'producer',
      pino({ level: 'silent' }),
    )
    try {
      await waitForRedis(redis, 10_000)
      await redis.set('outbound-test:via-sentinel', 'yes')
      expect(await redis.get('outbound-test:via-sentinel')).toBe('yes')
      expect('sentinels' in redis.options && redis.options.sentinels).toEqual([
        { host: '127.0.0.1', port: sentinelPort },
      ])
    } finally {
      redis.disconnect()
      sentinel.kill('SIGTERM')
      await master.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
