import { describe, expect, it } from 'vitest'
import {
  isSlowDown,
  nextRetryDelayMs,
  refusesMessage,
  replyClass,
  serverSignal,
  settleAttempt,
  type SettledRecipient,
} from './settle-attempt.js'

describe('replyClass', () => {
  it.each([
    [250, 'accepted'],
    [354, 'accepted'],
    [550, 'permanent'],
    [554, 'permanent'],
    [503, 'temporary'],
    [421, 'temporary'],
    [451, 'temporary'],
    [null, 'temporary'],
  ] as const)('%s is %s', (code, expected) => {
    expect(replyClass(code)).toBe(expected)
  })
})

describe('refusesMessage', () => {
  it.each([
    [550, 'RCPT TO', true],
    [554, 'DATA', true],
    [553, 'MAIL FROM', true],
    [535, 'AUTH PLAIN', false],
    [554, 'CONN', false],
    [451, 'DATA', false],
    [null, null, false],
  ] as const)('%s to %s: %s', (code, command, expected) => {
    expect(refusesMessage({ code, command })).toBe(expected)
  })
})

describe('nextRetryDelayMs', () => {
  const schedule = [60, 300]
  it.each([
    [1, '451 try later', 60_000],
    [2, '451 try later', 300_000],
    [3, '451 try later', null],
    [1, '450 4.2.0 try again in 10 minutes', 600_000],
    [3, '450 4.2.0 try again in 10 minutes', null],
  ] as const)('after attempt %s (%s): %s', (attempt, reply, expected) => {
    expect(nextRetryDelayMs(schedule, attempt, reply)).toBe(expected)
  })
})

const recipient = (address: string, status: SettledRecipient['status'] = 'pending') => ({
  address,
  status,
  smtpCode: null,
  enhancedCode: null,
  diagnostic: null,
})

describe('settleAttempt', () => {
  const three = [recipient('a@x.test'), recipient('b@x.test'), recipient('c@x.test')]

  it('sends the accepted and bounces the refused: the message is sent', () => {
    const settled = settleAttempt({
      recipients: three,
      outcome: {
        kind: 'replied',
        response: '250 2.0.0 queued as 1',
        accepted: ['a@x.test', 'C@X.TEST'],
        refused: [{ address: 'b@x.test', code: 550, response: '550 5.1.1 unknown' }],
      },
      retryDelayMs: 60_000,
    })
    expect(settled.status).toBe('sent')
    expect(settled.recipients.map((r) => [r.status, r.smtpCode, r.enhancedCode])).toEqual([
      ['sent', 250, '2.0.0'],
      ['bounced', 550, '5.1.1'],
      ['sent', 250, '2.0.0'],
    ])
    expect(settled.bounced.map((r) => r.address)).toEqual(['b@x.test'])
    expect(settled.retryDelayMs).toBeNull()
  })

  it('bounces the message when every recipient is refused for good', () => {
    const settled = settleAttempt({
      recipients: [recipient('a@x.test')],
      outcome: {
        kind: 'replied',
        response: '',
        accepted: [],
        refused: [{ address: 'a@x.test', code: 550, response: '550 no' }],
      },
      retryDelayMs: 1,
    })
    expect([settled.status, settled.detail]).toEqual(['bounced', 'every recipient was refused'])
  })

  it('defers a recipient refused for now, and fails it with an expiry once no retry is left', () => {
    const outcome = {
      kind: 'replied' as const,
      response: '250 ok',
      accepted: ['a@x.test'],
      refused: [{ address: 'b@x.test', code: 451, response: '451 4.7.1 later' }],
    }
    const two = [recipient('a@x.test'), recipient('b@x.test')]
    const deferred = settleAttempt({ recipients: two, outcome, retryDelayMs: 60_000 })
    expect([deferred.status, deferred.retryDelayMs, deferred.expired]).toEqual([
      'deferred',
      60_000,
      [],
    ])
    expect(deferred.recipients.map((r) => r.status)).toEqual(['sent', 'deferred'])
    const last = settleAttempt({ recipients: two, outcome, retryDelayMs: null })
    expect(last.status).toBe('failed')
    expect(last.expired.map((r) => r.address)).toEqual(['b@x.test'])
  })

  it('leaves recipients settled by an earlier attempt as they are', () => {
    const settled = settleAttempt({
      recipients: [recipient('a@x.test', 'sent'), recipient('b@x.test', 'deferred')],
      outcome: { kind: 'replied', response: '250 ok', accepted: ['b@x.test'], refused: [] },
      retryDelayMs: 1,
    })
    expect(settled.recipients.map((r) => r.status)).toEqual(['sent', 'sent'])
  })

  it.each([
    ['refused', 60_000, 'bounced', 1, 0],
    ['temporary', 60_000, 'deferred', 0, 0],
    ['temporary', null, 'failed', 0, 1],
    ['ours', 60_000, 'failed', 0, 0],
  ] as const)(
    'a transaction that failed (%s, retry %s) is %s',
    (cause, retryDelayMs, status, bounced, expired) => {
      const settled = settleAttempt({
        recipients: [recipient('a@x.test'), recipient('b@x.test', 'sent')],
        outcome: { kind: 'failed', cause, code: 554, response: '554 no' },
        retryDelayMs,
      })
      expect(settled.status).toBe(status)
      expect(settled.recipients.map((r) => r.status)).toEqual([status, 'sent'])
      expect([settled.bounced.length, settled.expired.length]).toEqual([bounced, expired])
    },
  )
})

describe('isSlowDown', () => {
  it.each([
    [421, '421 4.7.0 Try again later, slow down', true],
    [451, '451 4.7.1 Please try again later', true],
    [452, '452 4.3.2 System not accepting network messages', true],
    [450, '450 Too many messages from your IP', true],
    [451, '451 4.4.1 No answer from host', false],
    [452, '452 4.2.2 Mailbox full', false],
    [550, '550 5.7.1 rate limited for good', false],
  ] as const)('%s %s: %s', (code, text, expected) => {
    expect(isSlowDown({ code, text })).toBe(expected)
  })
})

describe('serverSignal', () => {
  const failed = (code: number | null, response: string) =>
    ({ kind: 'failed', cause: 'temporary', code, response }) as const
  it.each([
    [failed(null, 'connect ECONNREFUSED 127.0.0.1:25'), 'CONN', 'unreachable'],
    [failed(421, '421 4.3.2 Service not available'), 'CONN', 'unreachable'],
    [failed(421, '421 Too many connections, slow down'), 'CONN', 'slow-down'],
    [failed(535, '535 5.7.8 authentication failed'), 'AUTH PLAIN', 'unreachable'],
    [failed(421, '421 4.7.0 slow down'), 'RCPT TO', 'slow-down'],
    [failed(451, '451 4.4.1 temporary local problem'), 'DATA', 'success'],
  ] as const)('%j at %s: %s', (outcome, command, signal) => {
    expect(serverSignal(outcome, command)).toBe(signal)
  })

  it('hears a slow-down in a recipient refusal of an answered message', () => {
    const outcome = {
      kind: 'replied',
      response: '250 ok',
      accepted: [],
      refused: [{ address: 'a@x.test', code: 421, response: '421 4.7.0 slow down' }],
    } as const
    expect(serverSignal(outcome, null)).toBe('slow-down')
  })
})
