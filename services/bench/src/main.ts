import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import nodemailer from 'nodemailer'
import {
  freePort,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@outbound/testing'

// `pnpm bench`: the built API and worker processes against a private Redis and an in-process SMTP
// sink, next to raw pooled nodemailer into the same sink, in one run. Sizes: BENCH_MESSAGES
// (throughput runs, default 2000) and BENCH_MASS (the isolation backlog, default 50000).
const here = dirname(fileURLToPath(import.meta.url))
const API_MAIN = resolve(here, '../../api/dist/main.js')
const WORKER_MAIN = resolve(here, '../../worker/dist/main.js')
const MESSAGES = Number(process.env['BENCH_MESSAGES'] ?? 2000)
const MASS_BACKLOG = Number(process.env['BENCH_MASS'] ?? 50_000)
const TRANSACTIONAL_PROBES = 200
const HTTP_CONCURRENCY = 32
const BATCH_SIZE = 1000
const SMTP_CONNECTIONS = 5

type Row = { name: string; value: string }

const email = (i: number, stream: 'transactional' | 'mass' = 'transactional') => ({
  from: '"Bench" <bench@shop.example>',
  to: [`user${i}@example.com`],
  subject: `Benchmark message ${i}`,
  text: `Hello ${i}, this is a short message.`,
  stream,
})

/** Delivery times by X-Outbound-Message-Id, read off every message the sink accepts. */
function deliveryClock() {
  const at = new Map<string, bigint>()
  let count = 0
  return {
    record(raw: Buffer) {
      count += 1
      const id = /^X-Outbound-Message-Id: (\S+)\r?$/im.exec(raw.toString('latin1', 0, 4096))?.[1]
      if (id !== undefined) at.set(id, process.hrtime.bigint())
    },
    at,
    count: () => count,
    reset() {
      at.clear()
      count = 0
    },
  }
}

function start(main: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [main, ...args], {
    env: { PATH: process.env['PATH'], LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++)
    }),
  )
}

async function post<T>(url: string, body: unknown, method = 'POST'): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9
const rate = (count: number, elapsed: number) => `${(count / elapsed).toFixed(0)} messages/s`

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

async function startApi(redis: TestRedis, children: ChildProcess[]): Promise<string> {
  const port = await freePort()
  const api = `http://127.0.0.1:${port}`
  // The bench measures capacity: no per-key rate limit.
  children.push(
    start(API_MAIN, [], {
      REDIS_URL: redis.url,
      PORT: String(port),
      RATE_LIMIT_SEND_PER_MINUTE: '0',
    }),
  )
  await waitFor(
    () =>
      fetch(`${api}/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    { timeoutMs: 30_000 },
  )
  // The built-in default server allows 200 a day by default (DOMAIN.md §6); the bench sends more.
  await post(`${api}/v1/settings`, { defaultDailyLimit: 100_000_000 }, 'PATCH')
  return api
}

async function acceptInBatches(
  api: string,
  count: number,
  stream: 'transactional' | 'mass',
  offset = 0,
) {
  await inParallel(Math.ceil(count / BATCH_SIZE), 4, async (b) => {
    const size = Math.min(BATCH_SIZE, count - b * BATCH_SIZE)
    await post(`${api}/v1/emails/batch`, {
      emails: Array.from({ length: size }, (_, i) => email(offset + b * BATCH_SIZE + i, stream)),
    })
  })
}

async function rawNodemailer(sink: SmtpSink): Promise<number> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: sink.port,
    pool: true,
    maxConnections: SMTP_CONNECTIONS,
    ignoreTLS: true,
  })
  const started = process.hrtime.bigint()
  await inParallel(MESSAGES, 50, async (i) => {
    await transport.sendMail(email(i))
  })
  const elapsed = seconds(started, process.hrtime.bigint())
  transport.close()
  return MESSAGES / elapsed
}

async function main(): Promise<void> {
  const rows: Row[] = []
  const clock = deliveryClock()
  const sink = await startSmtpSink({ onMessage: (message) => clock.record(message.raw) })
  const resetClock = () => {
    clock.reset()
    sink.messages.length = 0
  }
  const children: ChildProcess[] = []
  const redisServers: TestRedis[] = []
  const freshRedis = async () => {
    const redis = await startTestRedis()
    redisServers.push(redis)
    return redis
  }
  try {
    // 1. The ceiling: raw pooled nodemailer into this sink on this machine.
    const raw = await rawNodemailer(sink)
    rows.push({
      name: `raw nodemailer, pooled (${SMTP_CONNECTIONS} connections)`,
      value: `${raw.toFixed(0)} messages/s`,
    })
    resetClock()

    // 2. API acceptance, then one worker draining what was accepted (the full pipeline).
    const redis = await freshRedis()
    const api = await startApi(redis, children)
    let started = process.hrtime.bigint()
    await inParallel(MESSAGES, HTTP_CONCURRENCY, (i) => post(`${api}/v1/emails`, email(i)))
    rows.push({
      name: `API accepts, POST /v1/emails (${HTTP_CONCURRENCY} concurrent)`,
      value: rate(MESSAGES, seconds(started, process.hrtime.bigint())),
    })
    started = process.hrtime.bigint()
    await acceptInBatches(api, MESSAGES, 'transactional', MESSAGES)
    rows.push({
      name: `API accepts, POST /v1/emails/batch (${BATCH_SIZE} per batch)`,
      value: rate(MESSAGES, seconds(started, process.hrtime.bigint())),
    })

    const queued = 2 * MESSAGES
    const worker = start(WORKER_MAIN, ['--pool', 'all'], {
      REDIS_URL: redis.url,
      SMTP_URL: sink.url,
    })
    await waitFor(() => clock.count() === queued, {
      timeoutMs: 600_000,
      what: `${queued} deliveries`,
    })
    const times = [...clock.at.values()].sort((a, b) => (a < b ? -1 : 1))
    // First delivery to last, so that process start-up is not counted.
    const e2e = (queued - 1) / seconds(times[0] ?? 0n, times.at(-1) ?? 0n)
    rows.push({
      name: 'end to end: queue -> 1 worker process -> sink',
      value: `${e2e.toFixed(0)} messages/s`,
    })
    rows.push({ name: 'end to end / raw nodemailer', value: `${((100 * e2e) / raw).toFixed(0)} %` })
    await stop(worker)
    resetClock()

    // 3. Scale-out: the same backlog drained by 1, then 2 worker processes.
    for (const processes of [1, 2]) {
      const backlog = 2 * MESSAGES
      await acceptInBatches(api, backlog, 'mass', 10_000_000 * processes)
      const workers = Array.from({ length: processes }, () =>
        start(WORKER_MAIN, ['--pool', 'mass'], { REDIS_URL: redis.url, SMTP_URL: sink.url }),
      )
      await waitFor(() => clock.count() === backlog, {
        timeoutMs: 600_000,
        what: `${backlog} deliveries`,
      })
      const sorted = [...clock.at.values()].sort((a, b) => (a < b ? -1 : 1))
      rows.push({
        name: `scale-out: ${processes} mass worker process${processes > 1 ? 'es' : ''} (first to last delivery)`,
        value: rate(backlog - 1, seconds(sorted[0] ?? 0n, sorted.at(-1) ?? 0n)),
      })
      await Promise.all(workers.map(stop))
      resetClock()
    }

    // 4. Isolation: a mass backlog draining while transactional mail is sent one by one.
    const isolated = await freshRedis()
    const secondApi = await startApi(isolated, children)
    await acceptInBatches(secondApi, MASS_BACKLOG, 'mass')
    const env = { REDIS_URL: isolated.url, SMTP_URL: sink.url }
    children.push(
      start(WORKER_MAIN, ['--pool', 'mass'], env),
      start(WORKER_MAIN, ['--pool', 'transactional'], env),
    )
    await waitFor(() => clock.count() > 1000, {
      timeoutMs: 60_000,
      what: 'the mass backlog to drain',
    })
    const latencies: number[] = []
    for (let i = 0; i < TRANSACTIONAL_PROBES; i++) {
      const { id } = await post<{ id: string }>(`${secondApi}/v1/emails`, email(i, 'transactional'))
      const acceptedAt = process.hrtime.bigint()
      const deliveredAt = await waitFor(() => clock.at.get(id), {
        timeoutMs: 30_000,
        what: `transactional ${id}`,
      })
      latencies.push(seconds(acceptedAt, deliveredAt) * 1000)
    }
    const massDrained = clock.count() - TRANSACTIONAL_PROBES
    latencies.sort((a, b) => a - b)
    rows.push({
      name: `isolation: ${TRANSACTIONAL_PROBES} transactional one by one while ${MASS_BACKLOG} mass drain (202 -> sink), p50`,
      value: `${percentile(latencies, 50).toFixed(1)} ms`,
    })
    rows.push({
      name: 'isolation: p99 (target < 250 ms)',
      value: `${percentile(latencies, 99).toFixed(1)} ms`,
    })
    rows.push({
      name: 'isolation: mass delivered meanwhile',
      value: `${massDrained} of ${MASS_BACKLOG}`,
    })
  } finally {
    await Promise.all(children.map(stop))
    await sink.close()
    for (const redis of redisServers) await redis.stop()
  }

  process.stdout.write('\n| benchmark | result |\n|---|---:|\n')
  for (const row of rows) process.stdout.write(`| ${row.name} | ${row.value} |\n`)
  process.stdout.write(
    `\n(node ${process.version}; BENCH_MESSAGES=${MESSAGES}, BENCH_MASS=${MASS_BACKLOG})\n`,
  )
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})
