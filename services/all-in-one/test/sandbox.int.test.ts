import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutboundClient, type OutboundClient, verifyWebhook } from '@outbound/client'
import { startLocalRedis, type LocalRedis } from '@outbound/local-redis'
import { type SmtpSink, startSmtpSink, waitFor } from '@outbound/testing'
import { startApi, startService, stopService, WORKER_MAIN } from './helpers/processes.js'

// Sandbox keys with real processes: a configured server and SMTP_URL both point at real SMTP
// sinks that must receive nothing from the sandbox key, while the rest of the pipeline runs.
type Delivered = { headers: IncomingHttpHeaders; body: string }
type EventBody = { type: string; data: Record<string, unknown> }

const sandboxKey = `sbx-${randomBytes(12).toString('hex')}`
const adminKey = `adm-${randomBytes(12).toString('hex')}`
const running: ChildProcess[] = []
const delivered: Delivered[] = []
let dataDir: string
let outboxDir: string
let redis: LocalRedis
let serverSink: SmtpSink
let defaultSink: SmtpSink
let sandbox: OutboundClient
let admin: OutboundClient
let webhookSecret: string
let serverId: string
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    delivered.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
    response.writeHead(204).end()
  })
})

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'outbound-sandbox-'))
  outboxDir = join(dataDir, 'outbox')
  redis = await startLocalRedis({
    dataDir,
    appendOnly: false,
    searchPath: process.env['PATH'] ?? '',
  })
  serverSink = await startSmtpSink()
  defaultSink = await startSmtpSink()
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const env = {
    REDIS_URL: redis.url,
    OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
    OUTBOUND_API_KEYS: `ci:send+read+sandbox:${sandboxKey},ops:send+read+admin:${adminKey}`,
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
  }
  const { child, base } = await startApi(env)
  running.push(child)
  sandbox = createOutboundClient({ baseUrl: base, apiKey: sandboxKey })
  admin = createOutboundClient({ baseUrl: base, apiKey: adminKey })

  const server = await admin.POST('/v1/servers', {
    body: {
      name: 'production',
      host: '127.0.0.1',
      port: serverSink.port,
      security: 'none',
      fromFilter: 'shop.example',
    },
  })
  serverId = server.data?.id ?? ''
  const domain = await admin.POST('/v1/alias-domains', { body: { name: 'shop.example' } })
  await admin.POST('/v1/alias-domains/{id}/dkim', {
    params: { path: { id: domain.data?.id ?? '' } },
    body: {},
  })
  const hook = await admin.POST('/v1/webhooks', {
    body: {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
      events: ['*'],
    },
  })
  webhookSecret = hook.data?.secret ?? ''
  expect(serverId).toMatch(/^srv_/)
  expect(webhookSecret).toMatch(/^whsec_/)
  // The built-in default server is SMTP too: no path of the worker leads to a file but the sandbox.
  running.push(
    startService(WORKER_MAIN, ['--pool', 'all'], {
      ...env,
      SMTP_URL: defaultSink.url,
      OUTBOX_DIR: outboxDir,
    }),
  )
})

afterAll(async () => {
  await Promise.all(running.splice(0).map((child) => stopService(child)))
  await new Promise((resolve) => receiver.close(resolve))
  await serverSink.close()
  await defaultSink.close()
  await redis.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const mail = (to: string, extra: Record<string, unknown> = {}) => ({
  from: 'ann@shop.example',
  to: [to],
  subject: `Sandbox ${to}`,
  text: 'Hello from CI',
  ...extra,
})

async function send(client: OutboundClient, body: ReturnType<typeof mail>): Promise<string> {
  const sent = await client.POST('/v1/emails', { body })
  if (sent.data === undefined) throw new Error(`send refused: ${JSON.stringify(sent.error)}`)
  return sent.data.id
}

async function settled(id: string, statuses: readonly string[]) {
  return await waitFor(
    async () => {
      const { data } = await sandbox.GET('/v1/emails/{id}', { params: { path: { id } } })
      return data !== undefined && statuses.includes(data.status) ? data : undefined
    },
    { timeoutMs: 30_000, what: `message ${id} to end ${statuses.join(' or ')}` },
  )
}

/** The verified webhook events of a message, as the endpoint received them. */
function eventsOf(id: string): EventBody[] {
  return delivered
    .map((request) => verifyWebhook(webhookSecret, request.headers, request.body))
    .filter((event) => event.data['messageId'] === id)
}

describe('sandbox keys', () => {
  it('acts out every simulator address, never reaching a configured server', async () => {
    const ids = {
      delivered: await send(sandbox, mail('delivered@simulator.test')),
      bounce: await send(sandbox, mail('bounce@simulator.test')),
      defer: await send(sandbox, mail('defer@simulator.test')),
      complaint: await send(sandbox, mail('complaint@simulator.test')),
      suppressed: await send(sandbox, mail('suppressed@simulator.test')),
      // Ordinary addresses, once by the waterfall and once with the server forced.
      routed: await send(sandbox, mail('carol@example.com')),
      forced: await send(sandbox, mail('dave@example.com', { serverId })),
    }
    const batch = await sandbox.POST('/v1/emails/batch', {
      body: { emails: [mail('frank@example.com'), mail('grace@example.com', { serverId })] },
    })
    const batchIds = (batch.data?.results ?? []).flatMap((r) => ('id' in r ? [r.id] : []))
    expect(batchIds).toHaveLength(2)
    // The control: the same mail from an ordinary key does reach the configured server.
    const control = await send(admin, mail('erin@example.com'))
    await serverSink.waitForMessages(1, 30_000)

    const delivered = await settled(ids.delivered, ['sent'])
    const bounce = await settled(ids.bounce, ['bounced'])
    const defer = await settled(ids.defer, ['sent'])
    const complaint = await settled(ids.complaint, ['sent'])
    const suppressed = await settled(ids.suppressed, ['suppressed'])
    const routed = await settled(ids.routed, ['sent'])
    const forced = await settled(ids.forced, ['sent'])
    await settled(control, ['sent'])

    expect(bounce.recipients[0]).toMatchObject({
      status: 'bounced',
      smtpCode: 550,
      enhancedCode: '5.1.1',
    })
    expect(defer.attempts).toBe(2)
    expect(defer.events.map((event) => event.type)).toContain('deferred')
    expect(suppressed.recipients[0]?.status).toBe('suppressed')

    const batched = await Promise.all(batchIds.map((id) => settled(id, ['sent'])))
    for (const record of [
      delivered,
      bounce,
      defer,
      complaint,
      suppressed,
      routed,
      forced,
      ...batched,
    ]) {
      expect(record.sandbox).toBe(true)
    }
    for (const record of [delivered, defer, complaint, routed, forced, ...batched]) {
      expect(record.serverId).toBe('sandbox')
      expect(record.routing?.reason).toContain('sandbox key: not handed to production')
      expect(record.headerFrom).toContain('shop.example')
      // Written to the outbox, signed like any other message.
      const file = join(outboxDir, `${record.id}.eml`)
      expect(existsSync(file)).toBe(true)
      const raw = readFileSync(file, 'utf8')
      expect(raw).toContain(`Subject: ${record.subject}`)
      expect(raw).toMatch(/^DKIM-Signature: .*d=shop\.example/m)
    }
    expect(existsSync(join(outboxDir, `${ids.bounce}.eml`))).toBe(false)

    // Nothing of the sandbox key reached either server: only the control message.
    expect(serverSink.messages).toHaveLength(1)
    expect(serverSink.messages[0]?.rcptTo).toEqual(['erin@example.com'])
    expect(defaultSink.messages).toHaveLength(0)
    const control_ = await admin.GET('/v1/emails/{id}', { params: { path: { id: control } } })
    expect(control_.data?.sandbox).toBe(false)
    // A sandbox key may not retry or cancel real mail (a retry would go to a real server).
    const retried = await sandbox.POST('/v1/emails/{id}/retry', {
      params: { path: { id: control } },
    })
    expect(retried.error).toMatchObject({ code: 'FORBIDDEN' })
    const canceled = await sandbox.DELETE('/v1/emails/{id}', { params: { path: { id: control } } })
    expect(canceled.error).toMatchObject({ code: 'FORBIDDEN' })

    // The hard bounce suppressed the address, as any hard bounce does.
    const list = await admin.GET('/v1/suppressions')
    expect(JSON.stringify(list.data)).toContain('bounce@simulator.test')

    // Webhooks, signed as always, say sandbox: true.
    await waitFor(() => eventsOf(ids.defer).some((event) => event.type === 'email.sent'), {
      timeoutMs: 20_000,
      what: 'the webhook events',
    })
    await waitFor(() => eventsOf(ids.suppressed).length > 0 && eventsOf(ids.bounce).length > 0, {
      timeoutMs: 20_000,
      what: 'the bounce and suppression events',
    })
    const types = (id: string) => eventsOf(id).map((event) => event.type)
    expect(types(ids.delivered)).toContain('email.sent')
    expect(types(ids.bounce)).toContain('email.bounced')
    expect(types(ids.defer)).toEqual(expect.arrayContaining(['email.deferred', 'email.sent']))
    const deferral = eventsOf(ids.defer).find((event) => event.type === 'email.deferred')
    expect(deferral?.data['recipients']).toEqual([
      expect.objectContaining({ status: 'deferred', smtpCode: 451, enhancedCode: '4.7.1' }),
    ])
    expect(types(ids.complaint)).toContain('email.sent')
    // complaint@ is complained about after it was sent: recorded, listed and announced.
    await waitFor(() => types(ids.complaint).includes('email.complained'), {
      timeoutMs: 20_000,
      what: 'the email.complained event',
    })
    const complained = eventsOf(ids.complaint).find((event) => event.type === 'email.complained')
    expect(complained?.data).toMatchObject({
      recipient: 'complaint@simulator.test',
      reason: 'complaint',
      sandbox: true,
    })
    const complaints = await admin.GET('/v1/complaints')
    expect(complaints.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          messageId: ids.complaint,
          recipient: 'complaint@simulator.test',
        }),
      ]),
    )
    expect(types(ids.suppressed)).toContain('email.suppressed')
    for (const id of Object.values(ids)) {
      for (const event of eventsOf(id)) expect(event.data['sandbox']).toBe(true)
    }
    // Ordinary mail's bodies are unchanged: no sandbox field at all.
    expect(eventsOf(control).length).toBeGreaterThan(0)
    expect(eventsOf(control).every((event) => !('sandbox' in event.data))).toBe(true)
  })

  it('acts out bounce@ again on the next run, although its hard bounce suppressed it', async () => {
    const id = await send(sandbox, mail('bounce@simulator.test'))
    const record = await settled(id, ['bounced'])
    expect(record.recipients[0]).toMatchObject({ smtpCode: 550, enhancedCode: '5.1.1' })
    // An ordinary key still finds it suppressed.
    const refused = await admin.POST('/v1/emails', { body: mail('bounce@simulator.test') })
    expect(refused.error).toMatchObject({ code: 'RECIPIENT_SUPPRESSED' })
    expect(serverSink.messages).toHaveLength(1)
    expect(defaultSink.messages).toHaveLength(0)
  })
})
