import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { verifyWebhook } from './verify-webhook.js'
import { WebhookVerificationError } from 'standardwebhooks'

const secret = `whsec_${Buffer.from('a'.repeat(32)).toString('base64')}`
const body = JSON.stringify({
  type: 'email.sent',
  timestamp: '2030-01-01T00:00:00.000Z',
  data: { messageId: 'msg_1', sandbox: true },
})

function signed(payload: string, at = new Date()) {
  const id = 'evt_1'
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, payload),
  }
}

describe('verifyWebhook', () => {
  it('returns the event of a signed request, headers as Node or fetch give them', () => {
    const headers = signed(body)
    const event = verifyWebhook(secret, headers, body)
    expect(event.type).toBe('email.sent')
    expect(event.data['sandbox']).toBe(true)
    expect(verifyWebhook(secret, new Headers(headers), Buffer.from(body)).type).toBe('email.sent')
    const upper = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]),
    )
    expect(verifyWebhook(secret, upper, body).type).toBe('email.sent')
  })

  it('accepts either signature during a rotation', () => {
    const headers = signed(body)
    const other = `whsec_${Buffer.from('b'.repeat(32)).toString('base64')}`
    const both = {
      ...headers,
      'webhook-signature': `${new Webhook(other).sign('evt_1', new Date(Number(headers['webhook-timestamp']) * 1000), body)} ${headers['webhook-signature']}`,
    }
    expect(verifyWebhook(secret, both, body).type).toBe('email.sent')
  })

  it('refuses a changed body, another secret, a missing header and an old timestamp', () => {
    const headers = signed(body)
    expect(() => verifyWebhook(secret, headers, body.replace('msg_1', 'msg_2'))).toThrow(
      WebhookVerificationError,
    )
    const other = `whsec_${Buffer.from('c'.repeat(32)).toString('base64')}`
    expect(() => verifyWebhook(other, headers, body)).toThrow(WebhookVerificationError)
    const { ['webhook-signature']: _, ...unsigned } = headers
    expect(() => verifyWebhook(secret, unsigned, body)).toThrow(WebhookVerificationError)
    const old = signed(body, new Date(Date.now() - 10 * 60_000))
    expect(() => verifyWebhook(secret, old, body)).toThrow(WebhookVerificationError)
  })
})
