import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type { ClaimedMessage, Recipient } from '@outbound/store'
import { createFileOutbox } from '../transports/file-outbox.js'
import type { TransportRegistry } from '../transports/transport-registry.js'
import { sandboxSending, sandboxSuppressions, transportOf } from './sandbox.js'
import type { Attempt, Sending } from './types.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const recipient = (address: string, status: Recipient['status'] = 'pending'): Recipient => ({
  address,
  field: 'to',
  status,
  smtpCode: null,
  enhancedCode: null,
  diagnostic: null,
})

function attempt(recipients: Recipient[], sandbox: boolean): Attempt {
  const message = { id: 'msg_1', sandbox, recipients } as Pick<
    ClaimedMessage,
    'id' | 'sandbox' | 'recipients'
  >
  return { message: message as ClaimedMessage, token: 't', log: pino({ level: 'silent' }) }
}

const sending: Sending = {
  server: {
    id: 'srv_A',
    name: 'production',
  } as Sending['server'],
  serverId: 'srv_A',
  headerFrom: 'ann@shop.example',
  envelopeFrom: 'bounce@shop.example',
  replyTo: 'ann@shop.example',
  routing: { step: 'from-filter', reason: 'production matches shop.example' },
  sender: { address: 'ann@shop.example', domain: 'shop.example' },
}

// A registry that fails the test if anything asks it for a server's transport.
const noServers: TransportRegistry = {
  forServer: () => {
    throw new Error('a sandbox message asked for a server transport')
  },
  closeAll: async () => {},
}

describe('sandboxSending', () => {
  it('keeps what routing and the rewrite decided, but no server', () => {
    const sandboxed = sandboxSending(sending)
    expect(sandboxed).toMatchObject({
      server: null,
      serverId: 'sandbox',
      headerFrom: 'ann@shop.example',
      envelopeFrom: 'bounce@shop.example',
      routing: {
        step: 'from-filter',
        reason: 'production matches shop.example; sandbox key: not handed to production',
      },
    })
  })
})

describe('sandboxSuppressions', () => {
  it('lists suppressed@, never the other simulator addresses, and others as listed', () => {
    const found = ['listed', 'listed', 'listed', null]
    const seen = sandboxSuppressions(
      ['suppressed@simulator.test', 'bounce@simulator.test', 'gone@example.com', 'ok@example.com'],
      found,
      'simulated',
    )
    expect(seen).toEqual(['simulated', null, 'listed', null])
  })
})

describe('transportOf', () => {
  it('gives a sandbox message the sandbox outbox, never a server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbound-sandbox-unit-'))
    dirs.push(dir)
    const recipients = [
      recipient('delivered@simulator.test'),
      recipient('bounce@simulator.test'),
      recipient('defer@simulator.test'),
    ]
    const transport = transportOf(attempt(recipients, true), sending, {
      transports: noServers,
      sandboxOutbox: createFileOutbox(dir),
    })
    let commits = 0
    const result = await transport.send({
      id: 'msg_1',
      envelope: { from: 'bounce@shop.example', to: recipients.map((r) => r.address) },
      raw: Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      commit: () => Promise.resolve(++commits > 0),
    })
    expect(result.accepted).toEqual(['delivered@simulator.test'])
    expect(result.rejected).toEqual([
      expect.objectContaining({ address: 'bounce@simulator.test', responseCode: 550 }),
      expect.objectContaining({ address: 'defer@simulator.test', responseCode: 451 }),
    ])
    expect(commits).toBe(1)
    expect(readdirSync(dir)).toEqual(['msg_1.eml'])
    expect(readFileSync(join(dir, 'msg_1.eml'), 'utf8')).toContain('Subject: x')
  })

  it('accepts defer@ once it was deferred, and writes nothing when every recipient is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbound-sandbox-unit-'))
    dirs.push(dir)
    const deps = { transports: noServers, sandboxOutbox: createFileOutbox(dir) }
    const retried = transportOf(
      attempt([recipient('defer@simulator.test', 'deferred')], true),
      sending,
      deps,
    )
    const message = (to: string) => ({
      id: 'msg_2',
      envelope: { from: 'b@shop.example', to: [to] },
      raw: Buffer.from('x'),
      commit: () => Promise.resolve(true),
    })
    expect((await retried.send(message('defer@simulator.test'))).accepted).toEqual([
      'defer@simulator.test',
    ])
    rmSync(join(dir, 'msg_2.eml'))
    const bounced = transportOf(attempt([recipient('bounce@simulator.test')], true), sending, deps)
    const result = await bounced.send(message('bounce@simulator.test'))
    expect(result).toMatchObject({ accepted: [], response: expect.stringMatching(/^550 5\.1\.1/) })
    expect(readdirSync(dir)).toEqual([])
  })

  it('asks the registry for ordinary mail', () => {
    expect(() =>
      transportOf(attempt([recipient('a@example.com')], false), sending, {
        transports: noServers,
        sandboxOutbox: createFileOutbox(tmpdir()),
      }),
    ).toThrow('a sandbox message asked for a server transport')
  })
})
