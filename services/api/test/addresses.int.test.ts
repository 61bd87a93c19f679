import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type App, ApiHarness } from './helpers/api-harness.js'

// Fidelity: RFC 5322 takes `_` in a domain (and so do DNS, Odoo and real MTAs). The API refused
// such addresses and domains with INVALID_ADDRESS / INVALID_FROM_FILTER / INVALID_DOMAIN /
// INVALID_ALIAS because it applied host-name rules to mail domains.
const h = new ApiHarness()
let app: App

type Json = Record<string, unknown>
async function call(method: 'POST' | 'PATCH', url: string, payload: object) {
  const response = await app.inject({ method, url, payload })
  return { status: response.statusCode, body: response.json<Json>() }
}

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp()
})
afterEach(() => h.afterEach())

describe('addresses and domains with an underscore', () => {
  it('accepts them as sender, recipients and reply-to', async () => {
    const sent = await call('POST', '/v1/emails', {
      from: '"Test" <test@unknown_domain.com>',
      to: ['a@other_domain.example'],
      cc: ['b@x_y.example'],
      replyTo: 'reply@unknown_domain.com',
      subject: 'hi',
      text: 'hi',
    })
    expect(sent).toMatchObject({ status: 202, body: { status: 'queued' } })
  })

  it('accepts them in from filters, alias domain names, defaultFrom and settings', async () => {
    expect(
      await call('POST', '/v1/servers', {
        name: 'U',
        host: 'smtp.example.com',
        port: 587,
        fromFilter: 'unknown_domain.com, test@other_domain.example',
      }),
    ).toMatchObject({
      status: 201,
      body: { fromFilter: 'unknown_domain.com, test@other_domain.example' },
    })
    expect(
      await call('POST', '/v1/alias-domains', {
        name: 'test_domain.example',
        defaultFrom: 'notifications@test_domain.example',
      }),
    ).toMatchObject({
      status: 201,
      body: {
        name: 'test_domain.example',
        notificationAddress: 'notifications@test_domain.example',
        bounceAddress: 'bounce@test_domain.example',
      },
    })
    expect(
      await call('PATCH', '/v1/settings', {
        defaultFromFilter: 'unknown_domain.com',
        forceSmtpFrom: 'forced@unknown_domain.com',
      }),
    ).toMatchObject({ status: 200, body: { forceSmtpFrom: 'forced@unknown_domain.com' } })
  })

  it('still refuses what RFC 5322 refuses, and host names keep host-name rules', async () => {
    const refused = await call('POST', '/v1/emails', {
      from: 'a@b..example',
      to: ['x@y.example'],
      subject: 'hi',
      text: 'hi',
    })
    expect(refused).toMatchObject({ status: 400, body: { code: 'INVALID_ADDRESS' } })
    const host = await call('POST', '/v1/servers', {
      name: 'bad host',
      host: 'smtp_relay.example',
      port: 25,
    })
    expect(host).toMatchObject({ status: 400, body: { code: 'INVALID_HOST' } })
  })
})
