import { describe, expect, it } from 'vitest'
import { ConfigError } from './parse.js'
import { loadApiConfig, loadWorkerConfig, redactConfig } from './load-config.js'

const redis = { REDIS_URL: 'redis://127.0.0.1:6390' }

function problems(load: () => unknown): readonly string[] {
  try {
    load()
    return []
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
}

describe('loadApiConfig', () => {
  it('applies the contract defaults', () => {
    expect(loadApiConfig(redis)).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      apiKeys: [],
      logLevel: 'info',
    })
  })

  it('names every problem at once', () => {
    const found = problems(() =>
      loadApiConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', OUTBOUND_SECRET_KEY: 'short' }),
    )
    expect(found).toHaveLength(4)
    expect(found.join('\n')).toMatch(
      /REDIS_URL is not set[\s\S]*PORT[\s\S]*LOG_LEVEL[\s\S]*OUTBOUND_SECRET_KEY/,
    )
  })

  it('refuses a non-loopback HOST without API keys, and allows it with one', () => {
    expect(problems(() => loadApiConfig({ ...redis, HOST: '0.0.0.0' }))[0]).toMatch(
      /not a loopback address/,
    )
    const keys = 'svc:send+read:0123456789abcdef0123'
    expect(loadApiConfig({ ...redis, HOST: '0.0.0.0', OUTBOUND_API_KEYS: keys }).apiKeys).toEqual([
      { name: 'svc', scopes: ['send', 'read'], secret: '0123456789abcdef0123' },
    ])
  })

  it.each([
    ['svc:send:short', /at least 16/],
    ['svc:mail:0123456789abcdef', /scopes must be/],
    ['a b:send:0123456789abcdef', /the name must be/],
  ])('refuses the API key entry %s', (entry, message) => {
    expect(
      problems(() => loadApiConfig({ ...redis, OUTBOUND_API_KEYS: entry })).join('\n'),
    ).toMatch(message)
  })

  it('accepts a Sentinel URL and says how one reads when it is malformed', () => {
    expect(
      loadApiConfig({ REDIS_URL: 'redis+sentinel://s1:26379,s2:26379/mymaster' }).redisUrl,
    ).toBe('redis+sentinel://s1:26379,s2:26379/mymaster')
    expect(problems(() => loadApiConfig({ REDIS_URL: 'redis+sentinel://s1' }))[0]).toMatch(
      /master-name/,
    )
  })

  it('accepts a unix socket path as REDIS_URL and refuses other schemes', () => {
    expect(loadApiConfig({ REDIS_URL: '/run/redis.sock' }).redisUrl).toBe('/run/redis.sock')
    expect(problems(() => loadApiConfig({ REDIS_URL: 'http://x' }))[0]).toMatch(
      /schemes redis, rediss/,
    )
  })
})

describe('loadWorkerConfig', () => {
  it('takes --pool over WORKER_POOL and refuses an unknown pool', () => {
    expect(
      loadWorkerConfig({ ...redis, WORKER_POOL: 'mass' }, ['--pool', 'transactional']).pool,
    ).toBe('transactional')
    expect(loadWorkerConfig({ ...redis, WORKER_POOL: 'mass' }).pool).toBe('mass')
    expect(problems(() => loadWorkerConfig(redis, ['--pool', 'bulk']))[0]).toMatch(
      /--pool must be one of/,
    )
  })

  it('reads the webhook settings: private URLs refused by default, a retry schedule in seconds', () => {
    expect(loadWorkerConfig(redis)).toMatchObject({
      allowPrivateWebhookUrls: false,
      webhookConcurrency: 10,
      webhookRetrySchedule: undefined,
    })
    expect(
      loadWorkerConfig({
        ...redis,
        WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
        WEBHOOK_RETRY_SCHEDULE: '1, 2',
      }),
    ).toMatchObject({ allowPrivateWebhookUrls: true, webhookRetrySchedule: [1, 2] })
    expect(loadWorkerConfig(redis, ['--pool', 'webhooks']).pool).toBe('webhooks')
    expect(
      problems(() => loadWorkerConfig({ ...redis, WEBHOOK_RETRY_SCHEDULE: '5,soon' })),
    ).toEqual([expect.stringContaining('WEBHOOK_RETRY_SCHEDULE')])
  })

  it('lowers a background worker’s CPU priority by 10 unless WORKER_BACKGROUND_NICE says otherwise', () => {
    expect(loadWorkerConfig(redis).backgroundNice).toBe(10)
    expect(loadWorkerConfig({ ...redis, WORKER_BACKGROUND_NICE: '0' }).backgroundNice).toBe(0)
    for (const bad of ['-1', '20', 'low'])
      expect(problems(() => loadWorkerConfig({ ...redis, WORKER_BACKGROUND_NICE: bad }))).toEqual([
        expect.stringContaining('WORKER_BACKGROUND_NICE'),
      ])
  })

  it('keeps the raw source 7 days unless RAW_RETENTION_DAYS says otherwise (0: none)', () => {
    expect(loadWorkerConfig(redis).rawRetentionDays).toBe(7)
    expect(loadWorkerConfig({ ...redis, RAW_RETENTION_DAYS: '0' }).rawRetentionDays).toBe(0)
    for (const bad of ['-1', '366', 'week'])
      expect(problems(() => loadWorkerConfig({ ...redis, RAW_RETENTION_DAYS: bad }))).toEqual([
        expect.stringContaining('RAW_RETENTION_DAYS'),
      ])
  })

  it('checks the SMTP_URL scheme without echoing the URL', () => {
    const found = problems(() => loadWorkerConfig({ ...redis, SMTP_URL: 'http://user:hunter2@x' }))
    expect(found[0]).toMatch(/SMTP_URL must use one of the schemes smtp, smtps/)
    expect(found.join('')).not.toContain('hunter2')
  })

  it('reads PUBLIC_URL without its trailing slash and refuses other schemes, queries and credentials', () => {
    expect(loadWorkerConfig(redis).publicUrl).toBeUndefined()
    expect(loadWorkerConfig({ ...redis, PUBLIC_URL: 'https://mail.example.com/' }).publicUrl).toBe(
      'https://mail.example.com',
    )
    expect(loadApiConfig({ ...redis, PUBLIC_URL: 'http://example.com/outbound/' }).publicUrl).toBe(
      'http://example.com/outbound',
    )
    for (const bad of ['ftp://x.example', 'https://x.example/?a=1', 'https://u:p@x.example', 'x']) {
      expect(problems(() => loadApiConfig({ ...redis, PUBLIC_URL: bad }))).toEqual([
        expect.stringContaining('PUBLIC_URL'),
      ])
    }
  })
})

describe('redactConfig', () => {
  it('never shows secrets', () => {
    const config = loadWorkerConfig({
      REDIS_URL: 'redis://:redispass@r:6379',
      SMTP_URL: 'smtp://me:smtppass@smtp.example:587',
      OUTBOUND_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
    })
    const shown = JSON.stringify(redactConfig(config))
    expect(shown).not.toMatch(/redispass|smtppass|BwcH/)
    expect(shown).toContain('smtp://***@smtp.example:587')
  })
})
