import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Resolver } from 'node:dns/promises'
import { readFileSync } from 'node:fs'
import { dkimVerify } from 'mailauth'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  deleteKeysWithPrefix,
  freePort,
  type SmtpSink,
  startDnsServer,
  startSmtpSink,
  startTestRedis,
  type TestDnsServer,
  type TestRedis,
  waitFor,
} from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

// Bulk mail end to end (CONTRACT.md, Bulk mail), through the built API and worker processes, a
// real Redis, the SMTP sink and a local DNS server for an independent DKIM verifier (mailauth).
let redis: TestRedis
let sink: SmtpSink
let dns: TestDnsServer
let api: ChildProcess
let worker: ChildProcess
let base = ''

async function call<T>(path: string, body?: object | string, method = 'POST'): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : typeof body === 'string'
        ? { headers: { 'content-type': 'text/csv' }, body }
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

type Record = { status: string; error: string | null; warnings: string[]; list: string | null }

async function sendAndWait(body: object, until: (record: Record) => boolean) {
  const { id } = await call<{ id: string }>('/v1/emails', {
    subject: 'This week',
    text: 'Hi',
    ...body,
  })
  const record = await waitFor(
    async () => {
      const current = await call<Record>(`/v1/emails/${id}`, undefined, 'GET')
      return until(current) ? current : null
    },
    { timeoutMs: 20_000, what: `message ${id}` },
  )
  return { id, record }
}

const rawOf = (id: string) =>
  sink.messages.find((message) => message.raw.toString().includes(id))?.raw ?? Buffer.alloc(0)

/** A header's value, unfolded. */
function header(raw: Buffer, name: string): string | undefined {
  const head =
    raw
      .toString()
      .split('\r\n\r\n')[0]
      ?.replace(/\r\n[ \t]+/g, ' ') ?? ''
  return new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1]
}

beforeAll(async () => {
  redis = await startTestRedis()
  sink = await startSmtpSink()
  dns = await startDnsServer()
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  const env = {
    REDIS_URL: redis.url,
    OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
    PUBLIC_URL: `${base}/`,
    DNS_SERVERS: dns.address,
  }
  api = (await startApi(env, port)).child
  const aliasDomain = await call<{ id: string }>('/v1/alias-domains', { name: 'shop.example' })
  const key = await call<{ name: string; value: string }>(
    `/v1/alias-domains/${aliasDomain.id}/dkim`,
    {},
  )
  dns.serve({ [key.name]: [key.value.match(/.{1,255}/g) ?? [key.value]] })
  worker = startService(WORKER_MAIN, ['--pool', 'all'], { ...env, SMTP_URL: sink.url })
}, 60_000)

afterAll(async () => {
  await Promise.all([api, worker].filter(Boolean).map((child) => stopService(child)))
  await sink.close()
  await dns.close()
  await deleteKeysWithPrefix(redis.url, 'outbound:')
  await redis.stop()
})

describe('bulk mail through the real processes', () => {
  it('signs List-Unsubscribe, List-Unsubscribe-Post and List-Id; each recipient its own link; one POST stops that list only', async () => {
    const bob = await sendAndWait(
      { from: 'news@shop.example', to: 'bob@example.com', stream: 'mass', list: 'weekly' },
      (record) => record.status === 'sent',
    )
    const carol = await sendAndWait(
      { from: 'news@shop.example', to: 'carol@example.com', stream: 'mass', list: 'weekly' },
      (record) => record.status === 'sent',
    )
    expect(bob.record).toMatchObject({ list: 'weekly', warnings: [] })
    const links = [bob, carol].map(({ id }) => {
      const raw = rawOf(id)
      expect(header(raw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click')
      expect(header(raw, 'List-Id')).toBe('"weekly" <weekly.shop.example>')
      const link = /^<(.*)>$/.exec(header(raw, 'List-Unsubscribe') ?? '')?.[1] ?? ''
      expect(link.startsWith(`${base}/unsubscribe/`)).toBe(true)
      return link
    })
    const tokens = links.map((link) => link.slice(link.lastIndexOf('/') + 1))
    expect(tokens[0]).not.toBe(tokens[1])
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
      const decoded = Buffer.from(token, 'base64url').toString('latin1')
      for (const clear of [token, decoded]) expect(clear).not.toMatch(/bob|carol|example\.com/i)
    }

    // An independent verifier, asking our DNS server for the published key.
    const resolver = new Resolver()
    resolver.setServers([dns.address])
    const raw = rawOf(bob.id)
    const verified = await dkimVerify(raw, {
      resolver: async (name: string) => await resolver.resolveTxt(name),
    })
    expect(verified.results.map((r) => [r.signingDomain, r.status.result])).toEqual([
      ['shop.example', 'pass'],
    ])
    const signed = (/\bh=([^;]+)/.exec(header(raw, 'DKIM-Signature') ?? '')?.[1] ?? '')
      .split(':')
      .map((name) => name.trim().toLowerCase())
    expect(signed).toEqual(
      expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'list-id', 'from']),
    )

    // A GET (a link scanner) changes nothing; the RFC 8058 POST unsubscribes Bob from `weekly`.
    const link = links[0] ?? ''
    const page = await fetch(link)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('weekly')
    expect(await call<unknown[]>('/v1/suppressions', undefined, 'GET')).toEqual([])
    const posted = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    })
    expect(posted.status).toBe(200)
    expect(await call<unknown[]>('/v1/suppressions', undefined, 'GET')).toEqual([
      expect.objectContaining({
        address: 'bob@example.com',
        list: 'weekly',
        reason: 'unsubscribed',
      }),
    ])

    const again = await sendAndWait(
      { from: 'news@shop.example', to: 'bob@example.com', stream: 'mass', list: 'weekly' },
      (record) => record.status !== 'queued' && record.status !== 'sending',
    )
    expect(again.record.status).toBe('suppressed')
    expect(again.record.error).toContain('unsubscribed')
    const offers = await sendAndWait(
      { from: 'news@shop.example', to: 'bob@example.com', stream: 'mass', list: 'offers' },
      (record) => record.status === 'sent',
    )
    const receipt = await sendAndWait(
      { from: 'news@shop.example', to: 'bob@example.com' },
      (record) => record.status === 'sent',
    )
    expect(header(rawOf(offers.id), 'List-Id')).toBe('"offers" <offers.shop.example>')
    // Transactional mail carries none of the list headers.
    expect(header(rawOf(receipt.id), 'List-Unsubscribe')).toBeUndefined()
    expect(header(rawOf(receipt.id), 'List-Id')).toBeUndefined()
    expect(rawOf(again.id)).toHaveLength(0)
  }, 60_000)

  it('stops a whole domain with a *@domain entry', async () => {
    await call('/v1/suppressions', { address: '*@gone.example' })
    const response = await fetch(`${base}/v1/emails`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        from: 'news@shop.example',
        to: 'anyone@gone.example',
        subject: 's',
        text: 't',
      }),
    })
    expect(response.status).toBe(422)
  })

  it('imports 100,000 suppressions in one request and exports them again', async () => {
    const rows = 100_000
    const csv = [
      'address,reason,list',
      ...Array.from(
        { length: rows },
        (_, i) => `user${i}@bulk.example,import test,${i % 2 === 0 ? '' : 'weekly'}`,
      ),
    ].join('\n')
    const peakRss = () =>
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${api.pid}/status`, 'utf8'))?.[1] ?? 0)
    const rssBefore = peakRss()
    const importStarted = performance.now()
    const imported = await call<{ added: number; existing: number; refused: number }>(
      '/v1/suppressions/import',
      csv,
    )
    const importMs = performance.now() - importStarted
    expect(imported).toMatchObject({ added: rows, existing: 0, refused: 0 })

    const exportStarted = performance.now()
    const exported = await fetch(`${base}/v1/suppressions?format=csv`)
    const text = await exported.text()
    const exportMs = performance.now() - exportStarted
    const lines = text.trim().split('\n')
    // Bob's unsubscribe and the domain entry of the tests above, the header row, the import.
    expect(lines.filter((line) => line.includes('@bulk.example'))).toHaveLength(rows)
    const again = await call<{ added: number; existing: number }>(
      '/v1/suppressions/import',
      lines.filter((line) => line.includes('@bulk.example')).join('\n'),
    )
    expect(again).toMatchObject({ added: 0, existing: rows })
    console.log(
      `100,000-row CSV: import ${Math.round(importMs)} ms, export ${Math.round(exportMs)} ms, ` +
        `CSV ${(csv.length / 1e6).toFixed(1)} MB, API peak RSS ${Math.round(rssBefore / 1024)} MiB before, ` +
        `${Math.round(peakRss() / 1024)} MiB after`,
    )
  }, 120_000)
})
