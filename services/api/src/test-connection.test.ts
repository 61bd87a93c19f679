import { describe, expect, it } from 'vitest'
import { describeFailure, type SmtpError, stageOf, testSender } from './test-connection.js'
import { DEFAULT_SETTINGS, type OutgoingServer } from '@outbound/store'

const error = (fields: Partial<SmtpError>): SmtpError =>
  Object.assign(new Error(fields.message ?? 'failed'), fields)

describe('stageOf', () => {
  it.each<[Partial<SmtpError>, string]>([
    [{ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25', command: 'CONN' }, 'connect'],
    [{ code: 'ETIMEDOUT', message: 'Greeting never received', command: 'CONN' }, 'connect'],
    [{ code: 'ETLS', message: 'STARTTLS not offered', command: 'STARTTLS' }, 'tls'],
    [{ code: 'ESOCKET', message: 'self-signed certificate', command: 'CONN' }, 'tls'],
    [{ code: 'EAUTH', message: 'Invalid login', command: 'AUTH PLAIN' }, 'auth'],
    [{ code: 'EENVELOPE', message: 'Mail command failed', command: 'MAIL FROM' }, 'mail'],
    [{ code: 'EENVELOPE', message: 'Recipient command failed', command: 'RCPT TO' }, 'rcpt'],
    [{ code: 'EENVELOPE', message: 'Data command failed', command: 'DATA' }, 'data'],
  ])('%j → %s', (fields, stage) => {
    expect(stageOf(error(fields))).toBe(stage)
  })
})

describe('describeFailure', () => {
  it('suggests 465, 587 or 2525 when port 25 cannot be reached', () => {
    const detail = describeFailure(error({ message: 'connect ECONNREFUSED' }), 'connect', {
      port: 25,
    })
    expect(detail).toMatch(/ECONNREFUSED.*465 \(tls\), 587 \(starttls\) or 2525/)
    expect(
      describeFailure(error({ message: 'connect ECONNREFUSED' }), 'connect', { port: 587 }),
    ).toBe('connect ECONNREFUSED')
  })

  it('reports a throttling reply as such, not as a broken setting', () => {
    const detail = describeFailure(
      error({ response: '421 4.7.0 Too many connections, slow down', responseCode: 421 }),
      'rcpt',
      { port: 587 },
    )
    expect(detail).toMatch(/^421 4\.7\.0 .*slow down \(throttling\)/)
  })

  it("quotes the server's reply when there is one", () => {
    expect(
      describeFailure(error({ response: '535 5.7.8 bad credentials' }), 'auth', { port: 587 }),
    ).toMatch(/^535 5\.7\.8/)
  })
})

describe('testSender', () => {
  const server = (fromFilter: string | null): OutgoingServer => ({
    id: 'srv_1',
    name: 'S',
    host: 'smtp.example',
    port: 587,
    security: 'starttls',
    username: null,
    passwordSealed: null,
    sequence: 1,
    fromFilter,
    dailyLimit: null,
    maxConnections: 1,
    active: true,
    createdAt: '',
    updatedAt: '',
  })
  const snapshot = (withAlias: boolean) => ({
    version: 1,
    writeId: '',
    servers: [],
    companies: [],
    webhooks: [],
    settings: DEFAULT_SETTINGS,
    aliasDomains: withAlias
      ? [
          {
            id: 'ad',
            name: 'shop.example',
            sequence: 1,
            bounceAlias: 'bounce',
            catchallAlias: 'catchall',
            defaultFrom: 'notifications',
            createdAt: '',
            updatedAt: '',
          },
        ]
      : [],
  })

  it.each<[string | null, boolean, string]>([
    ['a.example, me@b.example', true, 'me@b.example'],
    ['other.example, shop.example', true, 'notifications@shop.example'],
    ['other.example', true, 'noreply@other.example'],
    [null, true, 'notifications@shop.example'],
    [null, false, 'noreply@smtp.example'],
  ])('filter %j (alias domain: %s) → %s', (filter, withAlias, sender) => {
    expect(testSender(server(filter), snapshot(withAlias))).toBe(sender)
  })
})
