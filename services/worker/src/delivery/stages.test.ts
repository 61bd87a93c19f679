import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { prepareServers } from '@outbound/routing'
import { okState, type ServerState } from '@outbound/quota'
import {
  type ClaimedMessage,
  type ClaimResult,
  DEFAULT_SETTINGS,
  type MessageStore,
  type OutgoingServer,
  type Outcome,
  type QuotaStore,
  type ServerStateStore,
  type BounceStore,
} from '@outbound/store'
import type { RoutingContext } from '../routing-context.js'
import type { ServerStates } from '../server-states.js'
import type { MessageTransport, OutgoingMessage } from '../transports/message-transport.js'
import { claim } from './claim.js'
import { gate, lookUpEarly } from './gate.js'
import { handOver } from './hand-over.js'
import { plan } from './plan.js'
import { settle } from './settle.js'
import { shape } from './shape.js'
import type { Attempt, Sending } from './types.js'
import { messageRequest } from '../../test/helpers/message-request.js'

// Each stage on its own, with in-memory fakes at its edges (the store, the transport, the server
// states): what it returns, and what it asks the edges to write.
const log = pino({ level: 'silent' })
const now = new Date('2030-01-01T12:00:00Z')
const at = new Date(now)

function message(overrides: Partial<ClaimedMessage> = {}): ClaimedMessage {
  return {
    id: 'msg_1',
    stream: 'transactional',
    createdAt: now,
    attempts: 1,
    rateSlot: null,
    sandbox: false,
    request: messageRequest({
      from: '"Mary" <mary@customer.example.com>',
      to: ['bob@example.com', 'gone@example.com'],
    }),
    recipients: ['bob@example.com', 'gone@example.com'].map((address) => ({
      address,
      field: 'to' as const,
      status: 'pending' as const,
      smtpCode: null,
      enhancedCode: null,
      diagnostic: null,
    })),
    content: { text: 'hi', html: null, attachments: [] },
    ...overrides,
  }
}

function server(overrides: Partial<OutgoingServer> = {}): OutgoingServer {
  return {
    id: 'srv_A',
    name: 'A',
    host: '127.0.0.1',
    port: 2525,
    security: 'none',
    username: null,
    passwordSealed: null,
    sequence: 1,
    fromFilter: null,
    dailyLimit: null,
    maxConnections: 5,
    active: true,
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    ...overrides,
  }
}

function context(servers: OutgoingServer[]): RoutingContext {
  return {
    snapshot: {
      version: 1,
      writeId: '',
      servers,
      webhooks: [],
      aliasDomains: [
        {
          id: 'ad_shop',
          name: 'shop.example',
          sequence: 1,
          bounceAlias: 'bounce',
          catchallAlias: 'catchall',
          defaultFrom: 'notifications',
          createdAt: at.toISOString(),
          updatedAt: at.toISOString(),
        },
      ],
      companies: [],
      settings: { ...DEFAULT_SETTINGS, retrySchedule: { transactional: [60], mass: [60] } },
    },
    prepared: prepareServers(servers),
  }
}

/** A store that keeps the outcomes it is asked to record. */
function fakeStore(claimResult?: ClaimResult) {
  const outcomes: Outcome[] = []
  const store = {
    claimMessage: async () => claimResult ?? { kind: 'missing' },
    recordOutcome: async (_id: string, _token: string, outcome: Outcome) => {
      outcomes.push(outcome)
      return true
    },
    commitHandoff: async () => true,
  }
  return { store: store as unknown as MessageStore, outcomes }
}

const attempt = (m = message()): Attempt => ({ message: m, token: 't1', log })
const noStates: ServerStates = {
  current: () => null,
  report: async () => {},
  refresh: async () => {},
  close: () => {},
}
const metrics = {
  outcome: () => {},
  smtpReply: () => {},
  sendDuration: () => {},
  quotaWarning: () => {},
  sweeperRepair: () => {},
  serverState: () => {},
  serverStateChange: () => {},
}

function sendingThrough(target: OutgoingServer | null): Sending {
  return {
    server: target,
    serverId: target?.id ?? 'default',
    headerFrom: '"Mary" <notifications@shop.example>',
    envelopeFrom: 'bounce@shop.example',
    replyTo: '"Mary" <mary@customer.example.com>',
    routing: { step: 'server-without-filter', reason: 'test' },
    sender: { address: 'mary@customer.example.com', domain: 'customer.example.com' },
  }
}

describe('claim', () => {
  it('passes a claimed message on, and ends the job for a missing or final one', async () => {
    const claimed = await claim(
      'msg_1',
      't1',
      {
        ...fakeStore({ kind: 'claimed', message: message() }),
        now: () => now,
        newEventId: () => 'evt_1',
      },
      log,
    )
    expect(claimed).toMatchObject({ kind: 'claimed', attempt: { token: 't1' } })
    const final = await claim(
      'msg_1',
      't1',
      {
        ...fakeStore({ kind: 'final', status: 'sent' }),
        now: () => now,
        newEventId: () => 'evt_1',
      },
      log,
    )
    expect(final).toEqual({ kind: 'done', result: { kind: 'skipped', reason: 'sent' } })
  })

  it('waits for an attempt that is handing the message over, then counts it as sent with its event', async () => {
    const committing: ClaimResult = {
      kind: 'committing',
      token: 'old',
      committedAt: new Date(now.getTime() - 1000),
      recipients: message().recipients,
      summary: {
        messageId: 'msg_1',
        stream: 'transactional',
        serverId: null,
        reference: null,
        tags: [],
        metadata: {},
        subject: 'Hello',
        to: [],
      },
    }
    const fake = fakeStore(committing)
    const waiting = await claim(
      'msg_1',
      't1',
      { ...fake, now: () => now, newEventId: () => 'evt_1' },
      log,
    )
    expect(waiting).toMatchObject({ kind: 'wait', retry: false })
    const later = new Date(now.getTime() + 60_000)
    const sent = await claim(
      'msg_1',
      't1',
      { ...fake, now: () => later, newEventId: () => 'evt_1' },
      log,
    )
    expect(sent).toEqual({ kind: 'done', result: { kind: 'sent' } })
    expect(fake.outcomes[0]?.status).toBe('sent')
    expect(fake.outcomes[0]?.webhookEvents?.map((e) => e.type)).toEqual(['email.sent'])
  })
})

describe('plan', () => {
  it('rewrites through the first server without a filter, and fails over from an excluded one', () => {
    const a = server()
    const b = server({ id: 'srv_B', name: 'B', sequence: 2 })
    const planned = plan(attempt(), context([a, b]), new Map(), now)
    expect(planned).toMatchObject({
      kind: 'planned',
      sending: {
        serverId: 'srv_A',
        headerFrom: '"Mary" <notifications@shop.example>',
        envelopeFrom: 'bounce@shop.example',
      },
    })
    const failedOver = plan(attempt(), context([a, b]), new Map([['srv_A', 'down (refused)']]), now)
    expect(failedOver).toMatchObject({ kind: 'planned', sending: { serverId: 'srv_B' } })
    if (failedOver.kind === 'planned')
      expect(failedOver.sending.routing.reason).toMatch(/failover: A is down \(refused\)/)
    expect(plan(attempt(), context([a]), new Map([['srv_A', 'down']]), now)).toEqual({
      kind: 'no-server',
    })
  })

  it('expires a message past maxQueueHours, and fails one whose forced server is gone', () => {
    const old = message({ createdAt: new Date(now.getTime() - 73 * 3_600_000) })
    expect(plan(attempt(old), context([server()]), new Map(), now)).toMatchObject({
      kind: 'ended',
      outcome: { kind: 'failed', cause: 'expired' },
    })
    const forced = message({ request: { ...message().request, serverId: 'srv_gone' } })
    expect(plan(attempt(forced), context([server()]), new Map(), now)).toMatchObject({
      kind: 'ended',
      outcome: { kind: 'failed', cause: 'ours' },
    })
  })
})

describe('shape', () => {
  const statesOf = (state: ServerState): ServerStates => ({ ...noStates, current: () => state })
  const shaping = (probe: boolean, sendAt = 0) =>
    ({
      takeProbe: async () => probe,
      bookRate: async () => ({ sendAt, now: 0 }),
      readServerStates: async () =>
        new Map([['srv_A', { ...okState(now), status: 'down' as const, reason: 'refused' }]]),
    }) as unknown as ServerStateStore

  it('lets mail through to a healthy unlimited server without asking Redis', async () => {
    expect(
      await shape(attempt(), sendingThrough(server()), {
        serverStates: noStates,
        shaping: shaping(false),
        now: () => now,
      }),
    ).toEqual({ kind: 'go' })
  })

  it('makes mail for a throttled server wait, and calls a down one unavailable', async () => {
    const until = new Date(now.getTime() + 30_000).toISOString()
    const throttled = {
      ...okState(now),
      status: 'throttled' as const,
      until,
      reason: '421 slow down',
    }
    expect(
      await shape(attempt(), sendingThrough(server()), {
        serverStates: statesOf(throttled),
        shaping: shaping(false),
        now: () => now,
      }),
    ).toMatchObject({ kind: 'wait', until: new Date(until) })
    const down = { ...throttled, status: 'down' as const }
    expect(
      await shape(attempt(), sendingThrough(server()), {
        serverStates: statesOf(down),
        shaping: shaping(false),
        now: () => now,
      }),
    ).toMatchObject({ kind: 'unavailable' })
  })

  it('lets one message probe a down server whose wait is over', async () => {
    const down = {
      ...okState(now),
      status: 'down' as const,
      until: now.toISOString(),
      reason: 'refused',
    }
    expect(
      await shape(attempt(), sendingThrough(server()), {
        serverStates: statesOf(down),
        shaping: shaping(true),
        now: () => now,
      }),
    ).toEqual({ kind: 'go' })
    expect(
      await shape(attempt(), sendingThrough(server()), {
        serverStates: statesOf(down),
        shaping: shaping(false),
        now: () => now,
      }),
    ).toMatchObject({ kind: 'unavailable' })
  })

  it('books a slot over the rate and waits for it; a booked message goes', async () => {
    const limited = server({ rateLimit: '10/s' })
    const waited = await shape(attempt(), sendingThrough(limited), {
      serverStates: noStates,
      shaping: shaping(false, 300),
      now: () => now,
    })
    expect(waited).toMatchObject({
      kind: 'wait',
      until: new Date(now.getTime() + 300),
      rateSlot: { serverId: 'srv_A', epoch: '10/s' },
    })
    const booked = message({ rateSlot: { serverId: 'srv_A', at: now.getTime(), epoch: '10/s' } })
    expect(
      await shape(attempt(booked), sendingThrough(limited), {
        serverStates: noStates,
        shaping: shaping(false, 300),
        now: () => now,
      }),
    ).toEqual({ kind: 'go' })
  })
})

describe('gate', () => {
  const quota = (granted: boolean) =>
    ({
      reserveQuota: async () => ({
        granted,
        usedBefore: granted ? 0 : 5,
        usedAfter: granted ? 2 : 5,
      }),
      releaseQuota: async () => {},
    }) as unknown as QuotaStore
  const bounces = (suppressed: string[]) =>
    ({
      matchSuppressions: async (queries: { address: string }[]) =>
        queries.map(({ address }) =>
          suppressed.includes(address)
            ? { address, reason: 'x', source: 'manual', createdAt: '', list: null }
            : null,
        ),
    }) as unknown as BounceStore
  const deps = (store: MessageStore, granted: boolean, suppressed: string[]) =>
    ({
      store,
      bounces: bounces(suppressed),
      quota: quota(granted),
      quotaWindow: () => ({
        day: '2030-01-01',
        start: now,
        resetsAt: new Date(now.getTime() + 3_600_000),
      }),
      routing: () => context([server({ dailyLimit: 5 })]),
      metrics,
      now: () => now,
      newEventId: () => 'evt_1',
      appendEvent: async () => {},
    }) as unknown as Parameters<typeof gate>[2]

  it('drops suppressed recipients and reserves the quota of the others', async () => {
    const { store } = fakeStore()
    const gated = await gate(
      attempt(),
      sendingThrough(server({ dailyLimit: 5 })),
      deps(store, true, ['gone@example.com']),
    )
    expect(gated).toMatchObject({
      kind: 'gated',
      gated: { pending: [{ address: 'bob@example.com' }] },
    })
  })

  it('ends a message whose recipients are all suppressed, with its event', async () => {
    const { store, outcomes } = fakeStore()
    const gated = await gate(
      attempt(),
      sendingThrough(server()),
      deps(store, true, ['bob@example.com', 'gone@example.com']),
    )
    expect(gated).toEqual({ kind: 'done', result: { kind: 'skipped', reason: 'suppressed' } })
    expect(outcomes[0]?.webhookEvents?.map((e) => e.type)).toEqual(['email.suppressed'])
  })

  it('uses the suppressions looked up with the claim when they cover the waiting recipients', async () => {
    const { store } = fakeStore()
    const lookedUp: string[][] = []
    const counting = (suppressed: string[]) => {
      const inner = bounces(suppressed)
      return {
        matchSuppressions: async (queries: { address: string; list: string | null }[]) => {
          lookedUp.push(queries.map((q) => `${q.address}|${q.list ?? ''}`))
          return await inner.matchSuppressions(queries)
        },
      } as unknown as BounceStore
    }
    const hinted = counting(['gone@example.com'])
    const early = lookUpEarly(
      { messageId: 'msg_1', addresses: ['bob@example.com', 'gone@example.com'] },
      hinted,
    )
    const gated = await gate(
      attempt(),
      sendingThrough(server({ dailyLimit: 5 })),
      { ...deps(store, true, []), bounces: hinted },
      early,
    )
    // One look-up in all: the one made with the claim.
    expect(gated).toMatchObject({
      kind: 'gated',
      gated: { pending: [{ address: 'bob@example.com' }] },
    })
    expect(lookedUp).toEqual([['bob@example.com|', 'gone@example.com|']])

    // A hint for another list, or without a waiting recipient, is not trusted: looked up again.
    for (const data of [
      { messageId: 'msg_1', addresses: ['bob@example.com', 'gone@example.com'], list: 'news' },
      { messageId: 'msg_1', addresses: ['bob@example.com'] },
    ]) {
      lookedUp.length = 0
      const again = counting(['gone@example.com'])
      const result = await gate(
        attempt(),
        sendingThrough(server({ dailyLimit: 5 })),
        { ...deps(store, true, []), bounces: again },
        lookUpEarly(data, again),
      )
      expect(result).toMatchObject({
        kind: 'gated',
        gated: { pending: [{ address: 'bob@example.com' }] },
      })
      expect(lookedUp).toHaveLength(2)
    }
    expect(lookUpEarly({ messageId: 'msg_1' }, hinted)).toBeNull()
  })

  it('defers a message over the daily limit to the reset, as no attempt', async () => {
    const { store, outcomes } = fakeStore()
    const gated = await gate(
      attempt(message({ attempts: 3 })),
      sendingThrough(server({ dailyLimit: 5 })),
      deps(store, false, []),
    )
    expect(gated).toMatchObject({ kind: 'wait', retry: false })
    expect(outcomes[0]).toMatchObject({ status: 'deferred', attempts: 2 })
  })
})

describe('handOver', () => {
  const gated = { recipients: message().recipients, pending: message().recipients, reserved: null }
  const rendered = {
    raw: Buffer.from('x'),
    dkim: { signed: false, domain: 'shop.example', selectors: [], detail: '' },
    warnings: [],
  }

  it('turns the server reply into an outcome, and a refused commit into revoked', async () => {
    const transport: MessageTransport = {
      description: 'fake',
      send: async (out: OutgoingMessage) => {
        if (!(await out.commit())) throw new Error('unreachable')
        return {
          response: '250 ok',
          accepted: ['bob@example.com'],
          rejected: [
            { address: 'gone@example.com', responseCode: 550, response: '550 5.1.1 unknown' },
          ],
        }
      },
      close: async () => {},
    }
    const ended = await handOver(attempt(), sendingThrough(server()), gated, rendered, transport, {
      ...fakeStore(),
      now: () => now,
    })
    expect(ended).toMatchObject({
      kind: 'ended',
      outcome: { kind: 'replied', accepted: ['bob@example.com'] },
      afterCommit: true,
    })
    const refused = await handOver(
      attempt(),
      sendingThrough(server()),
      gated,
      rendered,
      {
        ...transport,
        send: async () => {
          throw Object.assign(new Error('550 no relay'), {
            responseCode: 550,
            response: '550 5.7.1 no relay',
            command: 'RCPT TO',
          })
        },
      },
      { ...fakeStore(), now: () => now },
    )
    expect(refused).toMatchObject({
      kind: 'ended',
      outcome: { kind: 'failed', cause: 'refused', code: 550 },
    })
  })
})

describe('settle', () => {
  const deps = (store: MessageStore, states: ServerStates = noStates) =>
    ({
      store,
      bounces: {
        bounceHistory: async () => [],
        recordBounce: async () => 1,
        addSuppression: async () => true,
      } as unknown as BounceStore,
      quota: { releaseQuota: async () => {} } as unknown as QuotaStore,
      routing: () => context([server()]),
      metrics,
      now: () => now,
      newEventId: () => 'evt_x',
      serverStates: states,
    }) as unknown as Parameters<typeof settle>[3]
  const replied = {
    kind: 'ended' as const,
    afterCommit: true,
    outcome: {
      kind: 'replied' as const,
      response: '250 ok',
      accepted: ['bob@example.com'],
      refused: [{ address: 'gone@example.com', code: 550, response: '550 5.1.1 unknown' }],
    },
  }

  it('records the sent message, its bounced recipient and their events in one outcome', async () => {
    const { store, outcomes } = fakeStore()
    const verdict = await settle(
      attempt(),
      replied,
      { sending: sendingThrough(server()), gated: null, rendered: null },
      deps(store),
    )
    expect(verdict).toEqual({ kind: 'done', result: { kind: 'sent' } })
    expect(outcomes[0]?.recipients?.map((r) => r.status)).toEqual(['sent', 'bounced'])
    expect(outcomes[0]?.webhookEvents?.map((e) => e.type)).toEqual(['email.sent', 'email.bounced'])
  })

  it('sends the outcome over the ordered store without waiting, and tries the store when it fails', async () => {
    const { store, outcomes } = fakeStore()
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const written: Outcome[] = []
    const orderedStore = {
      recordOutcome: async (_id: string, _token: string, outcome: Outcome) => {
        written.push(outcome)
        await held
        return true
      },
    }
    const verdict = await settle(
      attempt(),
      replied,
      { sending: sendingThrough(server()), gated: null, rendered: null },
      { ...deps(store), orderedStore },
    )
    // Settled while the write is still unanswered: the job's move follows it on the connection.
    expect(verdict).toEqual({ kind: 'done', result: { kind: 'sent' } })
    expect(written.map((o) => o.status)).toEqual(['sent'])
    expect(outcomes).toEqual([])
    release()

    const failing = {
      recordOutcome: async () => {
        throw new Error('connection lost')
      },
    }
    await settle(
      attempt(),
      replied,
      { sending: sendingThrough(server()), gated: null, rendered: null },
      { ...deps(store), orderedStore: failing },
    )
    await new Promise((resolve) => setImmediate(resolve))
    expect(outcomes.map((o) => o.status)).toEqual(['sent'])
  })

  it('defers a temporary failure with the delay computed once, for the record and the job', async () => {
    const { store, outcomes } = fakeStore()
    const ended = {
      kind: 'ended' as const,
      afterCommit: false,
      outcome: {
        kind: 'failed' as const,
        cause: 'temporary' as const,
        code: 451,
        response: '451 4.3.0 later',
      },
      command: 'DATA',
    }
    const verdict = await settle(
      attempt(),
      ended,
      { sending: sendingThrough(server()), gated: null, rendered: null },
      deps(store),
    )
    const until = new Date(now.getTime() + 60_000)
    expect(verdict).toEqual({ kind: 'wait', until, retry: true })
    expect(outcomes[0]).toMatchObject({ status: 'deferred', deferredUntil: until })
  })

  it('tells the server states nothing of a failure before the server was reached', async () => {
    const { store } = fakeStore()
    const reports: unknown[] = []
    const states: ServerStates = {
      ...noStates,
      report: async (_server, signal) => {
        reports.push(signal)
      },
    }
    const ended = {
      kind: 'ended' as const,
      afterCommit: false,
      local: true,
      outcome: {
        kind: 'failed' as const,
        cause: 'temporary' as const,
        code: null,
        response: 'DKIM signing failed',
      },
    }
    await settle(
      attempt(),
      ended,
      { sending: sendingThrough(server()), gated: null, rendered: null },
      deps(store, states),
    )
    expect(reports).toEqual([])
  })

  it('waits for a throttled server without using an attempt', async () => {
    const { store, outcomes } = fakeStore()
    const until = new Date(now.getTime() + 30_000)
    const throttled = {
      ...okState(now),
      status: 'throttled' as const,
      until: until.toISOString(),
      reason: '421',
    }
    const states: ServerStates = { ...noStates, current: () => throttled }
    const ended = {
      kind: 'ended' as const,
      afterCommit: false,
      outcome: {
        kind: 'failed' as const,
        cause: 'temporary' as const,
        code: 421,
        response: '421 4.7.0 slow down',
      },
      command: 'RCPT TO',
    }
    const verdict = await settle(
      attempt(message({ attempts: 2 })),
      ended,
      { sending: sendingThrough(server()), gated: null, rendered: null },
      deps(store, states),
    )
    expect(verdict).toEqual({ kind: 'wait', until, retry: true })
    expect(outcomes[0]).toMatchObject({ status: 'deferred', attempts: 1 })
  })
})
