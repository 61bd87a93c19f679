import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type SmtpSink, startSmtpSink, waitFor } from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

// Real processes against a real three-node Redis Cluster on this machine.
const children: ChildProcess[] = []
const nodes: ChildProcess[] = []
let dir = ''
let ports: number[] = []
let sink: SmtpSink
let base = ''

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outbound-cluster-'))
  ports = [await freePort(), await freePort(), await freePort()]
  for (const port of ports) {
    nodes.push(
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      ),
    )
  }
  for (const port of ports)
    await waitFor(() => {
      try {
        return redisCli(port, 'ping').trim() === 'PONG'
      } catch {
        return false
      }
    })
  execFileSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    { stdio: 'ignore' },
  )
  for (const port of ports)
    await waitFor(() => redisCli(port, 'cluster', 'info').includes('cluster_state:ok'), {
      what: 'the cluster',
    })

  sink = await startSmtpSink()
  const env = {
    REDIS_URL: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    SMTP_URL: sink.url,
  }
  children.push(startService(WORKER_MAIN, ['--pool', 'all'], env))
  const api = await startApi(env)
  children.push(api.child)
  base = api.base
})

afterAll(async () => {
  for (const child of [...children, ...nodes]) await stopService(child)
  await sink.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('Outbound on Redis Cluster', () => {
  it('takes configuration, accepts, delivers and reports quota across slots', async () => {
    const patch = await fetch(`${base}/v1/settings`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ defaultDailyLimit: 1000 }),
    })
    expect(patch.status).toBe(200)
    const emails = Array.from({ length: 40 }, (_, i) => ({
      from: 'ann@shop.example',
      to: `r${i}@example.com`,
      subject: `${i}`,
      text: 'x',
      stream: i % 2 === 0 ? 'mass' : 'transactional',
    }))
    const batch = await fetch(`${base}/v1/emails/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ emails }),
    })
    const { results } = (await batch.json()) as { results: { id: string }[] }
    await sink.waitForMessages(40, 30_000)
    const statuses = await Promise.all(
      results.map(
        async ({ id }) =>
          await waitFor(async () => {
            const record = (await (await fetch(`${base}/v1/emails/${id}`)).json()) as {
              status: string
            }
            return record.status === 'sent' ? record.status : null
          }),
      ),
    )
    expect(statuses).toHaveLength(40)
    const quota = (await (await fetch(`${base}/v1/quota`)).json()) as {
      serverId: string
      used: number
      limit: number
    }[]
    expect(quota.find((q) => q.serverId === 'default')).toMatchObject({ used: 40, limit: 1000 })
    // The search indexes live in the message shards, and the raw source beside the record.
    const search = async (query: string) =>
      ((await (await fetch(`${base}/v1/emails?${query}`)).json()) as { data: { id: string }[] })
        .data
    expect((await search('status=sent&stream=mass&limit=100')).map((row) => row.id).sort()).toEqual(
      results
        .filter((_, i) => i % 2 === 0)
        .map(({ id }) => id)
        .sort(),
    )
    expect(await search('to=r7@example.com')).toEqual([
      expect.objectContaining({ id: results[7]?.id }),
    ])
    const raw = await fetch(`${base}/v1/emails/${results[0]?.id ?? ''}/raw`)
    expect(raw.status).toBe(200)
    // Keys of different messages land on different nodes: the cluster is really used.
    const perNode = ports.map((port) => Number(redisCli(port, 'dbsize').trim()))
    expect(perNode.filter((count) => count > 0).length).toBeGreaterThan(1)
  })

  it('counts stats and records complaints in each message shard, summed across the nodes', async () => {
    const post = async (path: string, body: string, type = 'application/json') =>
      await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body })
    const later = (await (
      await post(
        '/v1/emails',
        JSON.stringify({
          from: 'ann@shop.example',
          to: 'later@example.com',
          subject: 'later',
          text: 'x',
          scheduledAt: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      )
    ).json()) as { id: string }
    expect((await fetch(`${base}/v1/emails/${later.id}`, { method: 'DELETE' })).status).toBe(200)
    // A Yahoo-shaped report (headers only) about the message r0@ received.
    const original = sink.messages.find((m) => m.rcptTo.includes('r0@example.com'))
    const text = original?.raw.toString('utf8') ?? ''
    const report = [
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
      '',
      '--b',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'Original-Rcpt-To: r0@example.com',
      '',
      '--b',
      'Content-Type: text/rfc822-headers',
      '',
      text.slice(0, text.search(/\r?\n\r?\n/)),
      '',
      '--b--',
      '',
    ].join('\r\n')
    expect((await post('/v1/bounces/inbound', report, 'message/rfc822')).status).toBe(202)
    const complaints = (await (await fetch(`${base}/v1/complaints`)).json()) as {
      recipient: string
    }[]
    expect(complaints.map((c) => c.recipient)).toEqual(['r0@example.com'])
    const stats = (await (await fetch(`${base}/v1/stats?interval=hour`)).json()) as {
      buckets: { accepted: number; sent: number; canceled: number; complained: number }[]
    }
    const total = (field: 'accepted' | 'sent' | 'canceled' | 'complained') =>
      stats.buckets.reduce((n, b) => n + b[field], 0)
    expect([total('accepted'), total('sent'), total('canceled'), total('complained')]).toEqual([
      41, 40, 1, 1,
    ])
  })
})
