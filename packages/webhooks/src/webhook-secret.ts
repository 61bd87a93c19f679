import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'

const SECRET_PREFIX = 'whsec_'
const SECRET_BYTES = 32

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`
}

/**
 * The `webhook-signature` header for one request: `v1,<base64>` per secret, space-separated (the
 * current secret and those still valid after a rotation). Signed by the standardwebhooks library.
 */
export function signWebhook(
  secrets: readonly string[],
  eventId: string,
  at: Date,
  body: string,
): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, at, body)).join(' ')
}
