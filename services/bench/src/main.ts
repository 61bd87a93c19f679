import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { freePort, startTestRedis, type TestRedis, waitFor } from '@outbound/testing'
import { postfixUnavailable, type PostfixRelay, startPostfixRelay } from './postfix-relay.js'

// `pnpm bench`: Outbound's built API and worker processes against a private Redis and an SMTP sink
// in a process of its own, next to the strongest fair baseline — raw pooled nodemailer with the
// same connection count, warmed up, in a process of its own — in the same run. Each throughput
// figure is the median of BENCH_ROUNDS rounds (raw and Outbound interleaved).
const here = dirname(fileURLToPath(import.meta.url))
const API_MAIN = resolve(here, '../../api/dist/main.js')
const WORKER_MAIN = resolve(here, '../../worker/dist/main.js')
const SINK_MAIN = resolve(here, 'sink-process.js')
const RAW_MAIN = resolve(here, 'raw-sender.js')

const env = process.env
const ROUNDS = Number(env['BENCH_ROUNDS'] ?? 3)
const MESSAGES = Number(env['BENCH_MESSAGES'] ?? 10_000)
const MASS_BACKLOG = Number(env['BENCH_MASS'] ?? 50_000)
const DRAIN = Number(env['BENCH_DRAIN'] ?? 100_000)
const CONNECTIONS = 10
const BATCH_SIZE = 500
const HTTP_CONCURRENCY = 32
const SINGLE_WARM_UP = 2000
const TRANSACTIONAL_PROBES = 200
const TRANSACTIONAL_WARM_UP = 20
const CLOCK_TICKS = 100

type Row = { name: string; value: string }
const rows: Row[] = []
const children: ChildProcess[] = []
const redisServers: TestRedis[] = []

// About 2.3 KB on the wire, as the measurements.
const BODY = 'x'.repeat(2000)
const email = (
  i: number,
  stream: 'transactional' | 'mass',
  subject = `Benchmark message ${i}`,
) => ({
  from: '"Bench" <bench@shop.example>',
  to: [`user${i}@example.com`],
  subject,
  text: BODY,
  stream,
})

// BENCH_CPU_PROF=<dir>: every API and worker process writes a V8 CPU profile there when it stops
// (open it in Chrome's DevTools or speedscope) — where the time goes, under the bench's load.
const PROFILE_DIR = env['BENCH_CPU_PROF']
const profiled = (main: string) =>
  PROFILE_DIR !== undefined && (main === API_MAIN || main === WORKER_MAIN)
    ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]
    : []

function start(main: string, args: string[], childEnv: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [...profiled(main), main, ...args], {
    env: { PATH: env['PATH'], LOG_LEVEL: 'warn', ...childEnv },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.push(child)
  return child
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

type Reply = { type: string } & Record<string, unknown>

/** The next IPC message of `type` from a child (after sending `request`, when given). */
async function ask<T extends Reply>(
  child: ChildProcess,
  type: string,
  request?: object,
): Promise<T> {
  const reply = new Promise<T>((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message.type !== type) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(message)
    }
    const onExit = () => reject(new Error(`a bench process exited waiting for ${type}`))
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
  if (request !== undefined) child.send(request)
  return await reply
}

type Sink = {
  port: number
  count(): Promise<number>
  reset(): Promise<void>
  probes(): Promise<Map<string, number>>
}

async function startSink(): Promise<Sink> {
  const child = start(SINK_MAIN, [], {})
  const { port } = await ask<Reply & { port: number }>(child, 'ready')
  return {
    port,
    count: async () =>
      (await ask<Reply & { count: number }>(child, 'count', { type: 'count' })).count,
    reset: async () => {
      await ask(child, 'reset', { type: 'reset' })
    },
    probes: async () =>
      new Map(
        (await ask<Reply & { probes: [string, number][] }>(child, 'probes', { type: 'probes' }))
          .probes,
      ),
  }
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

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

function rssMegabytes(pid: number | undefined): number {
  if (pid === undefined) return 0
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb ?? 0) / 1024
}

/** Calls per command from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats')
  return new Map(
    [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1] ?? '', Number(m[2])]),
  )
}

function redisPid(url: string): number | undefined {
  const port = new URL(url).port
  try {
    const out = execFileSync('pgrep', ['-f', `redis-server .*:${port}`], { encoding: 'utf8' })
    return Number(out.trim().split('\n')[0])
  } catch {
    return undefined
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN

async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++)
    }),
  )
}

type Outbound = { api: string; redis: Redis; redisUrl: string; apiPid: number | undefined }

// Webhook secrets are sealed at rest: the API and the workers share a key.
const SECRET_KEY = randomBytes(32).toString('base64')

/** A fresh Redis and API, with one outgoing server (the sink, CONNECTIONS connections, no limit). */
async function startOutbound(sink: Sink): Promise<Outbound> {
  const server = await startTestRedis()
  redisServers.push(server)
  const port = await freePort()
  const api = `http://127.0.0.1:${port}`
  const child = start(API_MAIN, [], {
    REDIS_URL: server.url,
    PORT: String(port),
    RATE_LIMIT_SEND_PER_MINUTE: '0',
    // The webhook round's receivers listen on loopback.
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    OUTBOUND_SECRET_KEY: SECRET_KEY,
  })
  await waitFor(
    () =>
      fetch(`${api}/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    { timeoutMs: 30_000 },
  )
  await post(`${api}/v1/servers`, {
    name: 'sink',
    host: '127.0.0.1',
    port: sink.port,
    security: 'none',
    maxConnections: CONNECTIONS,
  })
  return { api, redis: new Redis(server.url), redisUrl: server.url, apiPid: child.pid }
}

async function postBatches(
  outbound: Outbound,
  count: number,
  stream: 'transactional' | 'mass',
  offset = 0,
) {
  for (let start = 0; start < count; start += BATCH_SIZE) {
    const size = Math.min(BATCH_SIZE, count - start)
    await post(`${outbound.api}/v1/emails/batch`, {
      emails: Array.from({ length: size }, (_, i) => email(offset + start + i, stream)),
    })
  }
}

async function delivered(sink: Sink, count: number, timeoutMs = 900_000): Promise<void> {
  await waitFor(async () => (await sink.count()) >= count, {
    timeoutMs,
    what: `${count} deliveries`,
  })
}

async function rawRound(sink: Sink): Promise<number> {
  await sink.reset()
  const child = start(RAW_MAIN, [String(sink.port), String(CONNECTIONS), String(MESSAGES)], {})
  const { rate } = await ask<Reply & { rate: number }>(child, 'done')
  await stop(child)
  return rate
}

/**
 * The raw sender through a private Postfix relay to the same sink: the clock starts once the
 * warm-up has left Postfix and stops when the sink holds every measured message (a relay's rate is
 * what reaches the far side, not what it accepted).
 */
async function postfixRound(sink: Sink, relay: PostfixRelay): Promise<number> {
  await sink.reset()
  const child = start(
    RAW_MAIN,
    [String(relay.port), String(CONNECTIONS), String(MESSAGES), 'pause'],
    {},
  )
  const { warmUp } = await ask<Reply & { warmUp: number }>(child, 'warm')
  await delivered(sink, warmUp)
  const done = ask(child, 'done', { type: 'go' })
  const started = performance.now()
  await delivered(sink, warmUp + MESSAGES)
  const rate = MESSAGES / ((performance.now() - started) / 1000)
  await done
  await stop(child)
  return rate
}

type EndToEnd = {
  rate: number
  commands: number
  scripts: number
  cpu: Record<string, number>
  /** The most called commands, calls per delivered message. */
  top: string
}

/** Receivers for the webhook round: one answers at once, one never answers. */
async function webhookReceivers(): Promise<{ urls: string[]; close(): void }> {
  const servers = [
    createServer((request, response) => {
      request.resume()
      request.on('end', () => response.writeHead(204).end())
    }),
    // A receiver that hangs: the sender's 10 s timeout is all it gets.
    createServer((request) => request.resume()),
  ]
  const urls = await Promise.all(
    servers.map(
      (server) =>
        new Promise<string>((resolve) => {
          server.listen(0, '127.0.0.1', () => {
            const address = server.address()
            resolve(
              `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/hook`,
            )
          })
        }),
    ),
  )
  return {
    urls,
    close: () => {
      for (const server of servers) {
        server.closeAllConnections()
        server.close()
      }
    },
  }
}

/**
 * Batch API → Redis → one mass worker → sink; posting included, after a warm-up. With `webhooks`,
 * two endpoints subscribe to every event (one answers, one hangs) and a webhooks worker delivers
 * to them: mail must not slow down.
 */
async function endToEndRound(sink: Sink, webhooks = false): Promise<EndToEnd> {
  const outbound = await startOutbound(sink)
  const workerEnv = {
    REDIS_URL: outbound.redisUrl,
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    OUTBOUND_SECRET_KEY: SECRET_KEY,
  }
  const receivers = webhooks ? await webhookReceivers() : undefined
  for (const url of receivers?.urls ?? [])
    await post(`${outbound.api}/v1/webhooks`, { url, events: ['*'] })
  const hookWorker = webhooks ? start(WORKER_MAIN, ['--pool', 'webhooks'], workerEnv) : undefined
  const worker = start(WORKER_MAIN, ['--pool', 'mass'], workerEnv)
  await sink.reset()
  await postBatches(outbound, 500, 'mass', 90_000_000)
  await delivered(sink, 500)
  await sink.reset()
  const pids = { api: outbound.apiPid, worker: worker.pid, redis: redisPid(outbound.redisUrl) }
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]))
  const callsBefore = await commandCalls(outbound.redis)
  const started = performance.now()
  await postBatches(outbound, MESSAGES, 'mass')
  await delivered(sink, MESSAGES)
  const seconds = (performance.now() - started) / 1000
  const callsAfter = await commandCalls(outbound.redis)
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [
      k,
      ((cpuSeconds(pid) - (cpuBefore[k] ?? 0)) * 1e6) / MESSAGES,
    ]),
  )
  let commands = 0
  let scripts = 0
  const perCommand: [string, number][] = []
  for (const [name, calls] of callsAfter) {
    const diff = calls - (callsBefore.get(name) ?? 0)
    if (name === 'info') continue
    commands += diff
    perCommand.push([name, diff / MESSAGES])
    if (name === 'evalsha' || name === 'eval') scripts += diff
  }
  const top = perCommand
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, calls]) => `${name} ${calls.toFixed(1)}`)
    .join(', ')
  await stop(worker)
  if (hookWorker !== undefined) await stop(hookWorker)
  receivers?.close()
  outbound.redis.disconnect()
  return {
    rate: MESSAGES / seconds,
    commands: commands / MESSAGES,
    scripts: scripts / MESSAGES,
    cpu,
    top,
  }
}

/** Batch ingest with no worker, one call at a time; Redis memory per queued message. */
async function ingestRound(
  sink: Sink,
): Promise<{ rate: number; bytesPerMessage: number; single: number }> {
  const outbound = await startOutbound(sink)
  const count = 20 * BATCH_SIZE
  await postBatches(outbound, BATCH_SIZE, 'mass', 80_000_000)
  const memoryBefore = Number(/used_memory:(\d+)/.exec(await outbound.redis.info('memory'))?.[1])
  const started = performance.now()
  await postBatches(outbound, count, 'mass')
  const rate = count / ((performance.now() - started) / 1000)
  const memoryAfter = Number(/used_memory:(\d+)/.exec(await outbound.redis.info('memory'))?.[1])
  // Warmed up like every other figure: the API's code is compiled for single requests first.
  await inParallel(SINGLE_WARM_UP, HTTP_CONCURRENCY, async (i) => {
    await post(`${outbound.api}/v1/emails`, email(60_000_000 + i, 'mass'))
  })
  const singleStarted = performance.now()
  const singles = Math.min(MESSAGES, 5000)
  await inParallel(singles, HTTP_CONCURRENCY, async (i) => {
    await post(`${outbound.api}/v1/emails`, email(70_000_000 + i, 'mass'))
  })
  const single = singles / ((performance.now() - singleStarted) / 1000)
  outbound.redis.disconnect()
  return { rate, bytesPerMessage: (memoryAfter - memoryBefore) / count, single }
}

/** Transactional latency (202 → sink) while a mass backlog drains; mass and transactional workers apart. */
async function isolation(sink: Sink): Promise<{ p50: number; p99: number; massMeanwhile: number }> {
  const outbound = await startOutbound(sink)
  await inParallel(Math.ceil(MASS_BACKLOG / BATCH_SIZE), 4, async (b) => {
    const size = Math.min(BATCH_SIZE, MASS_BACKLOG - b * BATCH_SIZE)
    await post(`${outbound.api}/v1/emails/batch`, {
      emails: Array.from({ length: size }, (_, i) => email(b * BATCH_SIZE + i, 'mass')),
    })
  })
  await sink.reset()
  const workerEnv = { REDIS_URL: outbound.redisUrl }
  const workers = [
    start(WORKER_MAIN, ['--pool', 'mass'], workerEnv),
    start(WORKER_MAIN, ['--pool', 'transactional'], workerEnv),
  ]
  await delivered(sink, 1000)
  // As every round, the path is warmed up first: the transactional worker's first sends open its
  // connection and compile its code, and are not counted.
  for (let i = 0; i < TRANSACTIONAL_WARM_UP; i++) {
    const { id } = await post<{ id: string }>(
      `${outbound.api}/v1/emails`,
      email(i, 'transactional', `probe warm-up ${i}`),
    )
    await waitFor(async () => (await sink.probes()).has(id), { timeoutMs: 30_000, what: id })
  }
  const accepted = new Map<string, number>()
  for (let i = 0; i < TRANSACTIONAL_PROBES; i++) {
    const { id } = await post<{ id: string }>(
      `${outbound.api}/v1/emails`,
      email(i, 'transactional', `probe ${i}`),
    )
    accepted.set(id, Number(process.hrtime.bigint()) / 1e6)
    await waitFor(async () => (await sink.probes()).has(id), {
      timeoutMs: 30_000,
      what: `probe ${id}`,
    })
  }
  const probes = await sink.probes()
  const latencies = [...accepted]
    .map(([id, at]) => (probes.get(id) ?? NaN) - at)
    .sort((a, b) => a - b)
  const massMeanwhile = (await sink.count()) - TRANSACTIONAL_PROBES - TRANSACTIONAL_WARM_UP
  await Promise.all(workers.map(stop))
  outbound.redis.disconnect()
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), massMeanwhile }
}

/** Peak worker RSS while one worker drains DRAIN queued messages. */
async function drainMemory(sink: Sink): Promise<{ peakMb: number; rate: number }> {
  const outbound = await startOutbound(sink)
  await inParallel(Math.ceil(DRAIN / BATCH_SIZE), 4, async (b) => {
    const size = Math.min(BATCH_SIZE, DRAIN - b * BATCH_SIZE)
    await post(`${outbound.api}/v1/emails/batch`, {
      emails: Array.from({ length: size }, (_, i) => email(b * BATCH_SIZE + i, 'mass')),
    })
  })
  await sink.reset()
  const worker = start(WORKER_MAIN, ['--pool', 'mass'], { REDIS_URL: outbound.redisUrl })
  let peakMb = 0
  const sampler = setInterval(() => {
    peakMb = Math.max(peakMb, rssMegabytes(worker.pid))
  }, 250)
  const started = performance.now()
  await delivered(sink, DRAIN)
  const rate = DRAIN / ((performance.now() - started) / 1000)
  clearInterval(sampler)
  await stop(worker)
  outbound.redis.disconnect()
  return { peakMb, rate }
}

/** Read events Redis has processed (INFO stats): one per arrival of commands on a connection. */
async function readsProcessed(redis: Redis): Promise<number> {
  return Number(/^total_reads_processed:(\d+)/m.exec(await redis.info('stats'))?.[1] ?? NaN)
}

/**
 * The worker's Redis round trips per delivered message, as Redis sees them: one job at a time
 * (concurrency 1, so no two messages share a write), the read events Redis processes while queued
 * messages drain, less those of an idle stretch as long (the processes' timers), per message. An
 * upper bound: BullMQ's lock renewals and a write that arrives in two reads count too.
 */
async function roundTrips(sink: Sink): Promise<number> {
  const count = 1_000
  const outbound = await startOutbound(sink)
  await postBatches(outbound, count + 100, 'mass')
  await sink.reset()
  const worker = start(WORKER_MAIN, ['--pool', 'mass'], {
    REDIS_URL: outbound.redisUrl,
    WORKER_CONCURRENCY_MASS: '1',
  })
  // The first hundred open the connection and compile the code.
  await delivered(sink, 100)
  const before = await readsProcessed(outbound.redis)
  const from = await sink.count()
  const started = performance.now()
  await delivered(sink, count + 100)
  const reads = (await readsProcessed(outbound.redis)) - before
  const messages = (await sink.count()) - from
  const idleBefore = await readsProcessed(outbound.redis)
  await new Promise((resolve) => setTimeout(resolve, performance.now() - started))
  const idle = (await readsProcessed(outbound.redis)) - idleBefore
  await stop(worker)
  outbound.redis.disconnect()
  return (reads - idle) / messages
}

const fixed = (n: number, digits = 0) => n.toFixed(digits)

async function main(): Promise<void> {
  const sink = await startSink()
  try {
    const raws: number[] = []
    const e2es: EndToEnd[] = []
    const postfixes: number[] = []
    const noPostfix = postfixUnavailable()
    const relay =
      noPostfix === null ? startPostfixRelay(await freePort(), sink.port, CONNECTIONS) : null
    try {
      for (let round = 0; round < ROUNDS; round++) {
        raws.push(await rawRound(sink))
        e2es.push(await endToEndRound(sink))
        if (relay !== null) postfixes.push(await postfixRound(sink, relay))
        process.stderr.write(
          `round ${round + 1}: raw ${fixed(raws.at(-1) ?? 0)}/s, outbound ${fixed(e2es.at(-1)?.rate ?? 0)}/s` +
            (relay === null ? '\n' : `, postfix relay ${fixed(postfixes.at(-1) ?? 0)}/s\n`),
        )
      }
    } finally {
      relay?.stop()
    }
    const raw = median(raws)
    const e2e = median(e2es.map((r) => r.rate))
    rows.push({
      name: `raw nodemailer, pooled (${CONNECTIONS} connections, warmed up, own process)`,
      value: `${fixed(raw)} messages/s`,
    })
    rows.push({
      name: `end to end: batch API → Redis → 1 worker (maxConnections ${CONNECTIONS}) → sink, posting included`,
      value: `${fixed(e2e)} messages/s`,
    })
    rows.push({ name: 'end to end ÷ raw nodemailer (target ≥ 0.85)', value: fixed(e2e / raw, 2) })
    if (postfixes.length > 0) {
      const postfix = median(postfixes)
      rows.push({
        name: `raw nodemailer → local Postfix relay (${CONNECTIONS} connections out) → sink`,
        value: `${fixed(postfix)} messages/s (${fixed(postfix / raw, 2)} of raw)`,
      })
      rows.push({
        name: 'end to end ÷ local Postfix relay (target ≥ 4)',
        value: fixed(e2e / postfix, 2),
      })
    } else rows.push({ name: 'local Postfix relay', value: `not measured: ${noPostfix}` })
    rows.push({
      name: 'Redis commands per delivered message (API + worker, all)',
      value: fixed(median(e2es.map((r) => r.commands)), 1),
    })
    rows.push({
      name: 'most called Redis commands per message (last round)',
      value: e2es.at(-1)?.top ?? '',
    })
    rows.push({
      name: 'Redis scripts (EVALSHA) per delivered message',
      value: fixed(median(e2es.map((r) => r.scripts)), 1),
    })
    for (const part of ['api', 'worker', 'redis'])
      rows.push({
        name: `CPU per delivered message: ${part}`,
        value: `${fixed(median(e2es.map((r) => r.cpu[part] ?? 0)))} µs`,
      })

    const trips: number[] = []
    for (let round = 0; round < ROUNDS; round++) trips.push(await roundTrips(sink))
    rows.push({
      name: 'worker: Redis reads per delivered message, one job at a time (≈ round trips; target ≤ 3)',
      value: fixed(median(trips), 1),
    })

    const withHooks: number[] = []
    for (let round = 0; round < ROUNDS; round++)
      withHooks.push((await endToEndRound(sink, true)).rate)
    rows.push({
      name: 'end to end with 2 webhook endpoints on every event (one hangs) (target within 10 % of none)',
      value: `${fixed(median(withHooks))} messages/s (${fixed((100 * median(withHooks)) / e2e)} % of none)`,
    })

    const ingests = []
    for (let round = 0; round < ROUNDS; round++) ingests.push(await ingestRound(sink))
    rows.push({
      name: `batch ingest, ${BATCH_SIZE} × 2.3 KB per call, one call at a time (target ≥ 15,000)`,
      value: `${fixed(median(ingests.map((r) => r.rate)))} emails/s`,
    })
    rows.push({
      name: `single POST /v1/emails, ${HTTP_CONCURRENCY} concurrent (target ≥ 4,000)`,
      value: `${fixed(median(ingests.map((r) => r.single)))} requests/s`,
    })
    rows.push({
      name: 'Redis memory per queued message',
      value: `${fixed(median(ingests.map((r) => r.bytesPerMessage)))} bytes`,
    })

    const isolated = await isolation(sink)
    rows.push({
      name: `transactional 202 → sink while ${MASS_BACKLOG} mass drain, p50`,
      value: `${fixed(isolated.p50, 1)} ms`,
    })
    rows.push({ name: 'transactional p99 (target < 50 ms)', value: `${fixed(isolated.p99, 1)} ms` })
    rows.push({ name: 'mass delivered meanwhile', value: `${isolated.massMeanwhile}` })

    const drained = await drainMemory(sink)
    rows.push({
      name: `worker RSS draining ${DRAIN} (peak; target < 200 MB)`,
      value: `${fixed(drained.peakMb)} MB`,
    })
    rows.push({ name: `drain rate of ${DRAIN} queued`, value: `${fixed(drained.rate)} messages/s` })
  } finally {
    await Promise.all(children.map(stop))
    for (const redis of redisServers) await redis.stop()
  }
  process.stdout.write('\n| benchmark | result |\n|---|---:|\n')
  for (const row of rows) process.stdout.write(`| ${row.name} | ${row.value} |\n`)
  process.stdout.write(
    `\n(node ${process.version}; BENCH_ROUNDS=${ROUNDS}, BENCH_MESSAGES=${MESSAGES}, BENCH_MASS=${MASS_BACKLOG}, BENCH_DRAIN=${DRAIN}; medians of ${ROUNDS} rounds)\n`,
  )
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})
