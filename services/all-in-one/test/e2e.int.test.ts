import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboundClient, type paths } from '@outbound/client'
import {
  deleteKeysWithPrefix,
  freePort,
  type SmtpSink,
  startSmtpSink,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@outbound/testing'

// These tests run the built processes (`pnpm build` first; `pnpm test` does it).
const repo = resolve(import.meta.dirname, '../../..')
const API_MAIN = join(repo, 'services/api/dist/main.js')
const WORKER_MAIN = join(repo, 'services/worker/dist/main.js')
const ALL_IN_ONE_MAIN = join(repo, 'services/all-in-one/dist/main.js')

type Running = { child: ChildProcess; output: () => string; exited: Promise<number | null> }

function run(args: string[], env: Record<string, string | undefined>, cwd = repo): Running {
  if (!existsSync(args[0] ?? ''))
    throw new Error(`${args[0] ?? ''} is missing: run \`pnpm build\` first`)
  let output = ''
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env['PATH'], ...env },
    stdio: 'pipe',
  })
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return { child, output: () => output, exited }
}

async function stop(process: Running): Promise<number | null> {
  process.child.kill('SIGTERM')
  return await process.exited
}

// The API as its users call it: the typed client (no keys here: auth is off on loopback).
type SendBody = paths['/v1/emails']['post']['requestBody']['content']['application/json']

async function sendEmail(base: string, body: SendBody) {
  const { data, error, response } = await createOutboundClient({ baseUrl: base }).POST(
    '/v1/emails',
    { body },
  )
  if (data === undefined) throw new Error(`send refused: ${JSON.stringify(error)}`)
  return { status: response.status, body: data }
}

async function readMessage(base: string, id: string) {
  const { data, error } = await createOutboundClient({ baseUrl: base }).GET('/v1/emails/{id}', {
    params: { path: { id } },
  })
  if (data === undefined) throw new Error(`read refused: ${JSON.stringify(error)}`)
  return data
}

async function waitForReady(base: string, running: Running) {
  await waitFor(
    async () => {
      if (running.child.exitCode !== null) throw new Error(`exited early:\n${running.output()}`)
      return await fetch(`${base}/ready`).then(
        (r) => r.ok,
        () => false,
      )
    },
    { timeoutMs: 30_000, what: `${base}/ready` },
  )
}

describe('the api and worker processes', () => {
  let redis: TestRedis
  let sink: SmtpSink

  beforeAll(async () => {
    redis = await startTestRedis()
    sink = await startSmtpSink()
  })
  afterAll(async () => {
    await sink.close()
    await deleteKeysWithPrefix(redis.url, 'outbound:')
    await redis.stop()
  })

  it('accept mail over HTTP and deliver it through SMTP_URL, then stop cleanly on SIGTERM', async () => {
    const port = await freePort()
    const metricsPort = await freePort()
    const env = { REDIS_URL: redis.url, PORT: String(port), SMTP_URL: sink.url, LOG_LEVEL: 'warn' }
    const api = run([API_MAIN], env)
    const worker = run([WORKER_MAIN, '--pool', 'all'], {
      ...env,
      METRICS_PORT: String(metricsPort),
    })
    const base = `http://127.0.0.1:${port}`
    try {
      await waitForReady(base, api)
      const sent = await sendEmail(base, {
        from: '"Mary" <mary@customer.example.com>',
        to: 'ann@example.com',
        bcc: ['audit@example.com'],
        subject: 'End to end',
        text: 'Through real processes.',
      })
      expect(sent.status).toBe(202)
      const [received] = await sink.waitForMessages(1, 20_000)
      expect(received?.rcptTo).toEqual(['ann@example.com', 'audit@example.com'])
      const raw = received?.raw.toString() ?? ''
      // nodemailer writes the name as X-Outbound-Message-ID; header names are case-insensitive.
      expect(raw).toMatch(new RegExp(`^X-Outbound-Message-Id: ${sent.body.id}\\r$`, 'im'))
      expect(raw).toContain('Subject: End to end')
      expect(raw).not.toMatch(/^Bcc:/im)
      const record = await waitFor(async () => {
        const message = await readMessage(base, sent.body.id)
        return message.status === 'sent' ? message : null
      })
      expect(record.smtpResponse).toMatch(/^250/)
      expect(record.events.map((e) => e.type)).toEqual(['queued', 'sending', 'sent'])
      const workerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
      expect(workerMetrics).toContain(
        'outbound_messages_total{stream="transactional",status="sent"} 1',
      )
    } finally {
      expect(await stop(worker)).toBe(0)
      expect(await stop(api)).toBe(0)
    }
  })

  it('obey a configuration change made through the API within a second, without a restart', async () => {
    const first = await startSmtpSink()
    const second = await startSmtpSink()
    const port = await freePort()
    const env = { REDIS_URL: redis.url, PORT: String(port), LOG_LEVEL: 'warn' }
    const api = run([API_MAIN], env)
    const worker = run([WORKER_MAIN, '--pool', 'all'], env)
    const base = `http://127.0.0.1:${port}`
    const client = createOutboundClient({ baseUrl: base })
    try {
      await waitForReady(base, api)
      const { data: server } = await client.POST('/v1/servers', {
        body: {
          name: 'first',
          host: '127.0.0.1',
          port: first.port,
          security: 'none',
          fromFilter: 'shop.example',
        },
      })
      const mail = { from: 'ann@shop.example', to: 'bob@example.com', subject: 'Routed', text: 'x' }
      await sendEmail(base, mail)
      await first.waitForMessages(1, 20_000)

      const patched = await client.PATCH('/v1/servers/{id}', {
        params: { path: { id: server?.id ?? '' } },
        body: { port: second.port },
      })
      expect(patched.data?.port).toBe(second.port)
      // CONTRACT.md: configuration changes reach running workers within a second.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const sent = await sendEmail(base, mail)
      await second.waitForMessages(1, 20_000)
      expect(first.messages).toHaveLength(1)
      // The sink has the message a moment before the worker records the reply.
      await waitFor(async () => (await readMessage(base, sent.body.id)).status === 'sent')
    } finally {
      await stop(worker)
      await stop(api)
      await first.close()
      await second.close()
    }
  })

  it('run mass-only and webhooks-only workers at a lower CPU priority, and a transactional one as it is', async () => {
    // The nice value is the 19th field of /proc/<pid>/stat (the 17th after the command's name).
    const nice = (pid: number | undefined) =>
      Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16])
    const env = { REDIS_URL: redis.url, LOG_LEVEL: 'info' }
    const mass = run([WORKER_MAIN, '--pool', 'mass'], env)
    const transactional = run([WORKER_MAIN, '--pool', 'transactional'], env)
    const webhooks = run([WORKER_MAIN, '--pool', 'webhooks'], env)
    const lenient = run([WORKER_MAIN, '--pool', 'mass'], { ...env, WORKER_BACKGROUND_NICE: '0' })
    try {
      const workers = [mass, transactional, webhooks, lenient]
      await waitFor(() => workers.every((worker) => worker.output().includes('worker ready')), {
        timeoutMs: 20_000,
        what: 'four workers ready',
      })
      expect(nice(mass.child.pid)).toBe(10)
      expect(nice(webhooks.child.pid)).toBe(10)
      expect(mass.output()).toContain('background worker runs at a lower CPU priority')
      expect(nice(transactional.child.pid)).toBe(0)
      expect(nice(lenient.child.pid)).toBe(0)
    } finally {
      for (const worker of [mass, transactional, webhooks, lenient])
        expect(await stop(worker)).toBe(0)
    }
  })

  it('refuse to start without REDIS_URL, saying how to get Redis', async () => {
    for (const main of [API_MAIN, WORKER_MAIN]) {
      const lone = run([main], { PORT: String(await freePort()) })
      expect(await lone.exited).toBe(1)
      expect(lone.output()).toContain('REDIS_URL is not set')
      expect(lone.output()).toContain('pnpm start')
    }
  })
})

describe('pnpm start (all-in-one)', () => {
  it('starts a private Redis and the file outbox, delivers, and stops everything on SIGINT', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'outbound-all-in-one-'))
    const port = await freePort()
    const all = run([ALL_IN_ONE_MAIN], { PORT: String(port), LOG_LEVEL: 'warn' }, cwd)
    const base = `http://127.0.0.1:${port}`
    try {
      // The banner's lines arrive one write at a time: wait for the outbox line too.
      await waitFor(
        () =>
          all.output().includes('Outbound is running') &&
          all.output().includes(join(cwd, 'var/outbox')),
        { timeoutMs: 30_000, what: 'the banner' },
      )
      expect(all.output()).toContain(`${base}/docs`)
      expect(all.output()).toContain(join(cwd, 'var/outbox'))
      const sent = await sendEmail(base, {
        from: 'ann@shop.example',
        to: 'bob@example.com',
        subject: 'Hi',
        text: 'x',
      })
      const file = join(cwd, 'var/outbox', `${sent.body.id}.eml`)
      await waitFor(() => existsSync(file), { what: file })
      expect(readFileSync(file, 'utf8')).toContain('Subject: Hi')
      await waitFor(async () => (await readMessage(base, sent.body.id)).status === 'sent')
      expect(readFileSync(join(cwd, 'var/secret.key'), 'utf8').trim()).toHaveLength(44)

      all.child.kill('SIGINT')
      expect(await all.exited).toBe(0)
      // AOF on: the data survives in ./var/redis for the next start.
      expect(readdirSync(join(cwd, 'var/redis'))).toContain('appendonlydir')
      const refused = await fetch(`${base}/health`).then(
        () => 'answered',
        () => 'refused',
      )
      expect(refused).toBe('refused')
    } finally {
      all.child.kill('SIGKILL')
      rmSync(cwd, { recursive: true, force: true })
    }
  })
})
