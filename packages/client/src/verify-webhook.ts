import { Webhook } from 'standardwebhooks'

/** An event as Outbound posts it (CONTRACT.md, Webhooks). */
export type OutboundWebhookEvent = {
  type: string
  /** ISO-8601: when it happened. Order across events is not guaranteed: use this. */
  timestamp: string
  data: Record<string, unknown>
}

/** Request headers as Node (`IncomingHttpHeaders`), fetch (`Headers`) or a plain object give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>

function plainHeaders(headers: WebhookHeaders): Record<string, string> {
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers)
  const plain: Record<string, string> = {}
  for (const [name, value] of entries) {
    if (value === undefined) continue
    plain[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return plain
}

/**
 * Checks a webhook request's Standard Webhooks signature (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`, within 5 minutes of now) with the endpoint's `whsec_…` secret, and returns
 * the event. Throws `WebhookVerificationError` when it is not from Outbound. Pass the body exactly
 * as received (a string or the raw bytes), not parsed and serialized again.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
): OutboundWebhookEvent {
  // Outbound's bodies are UTF-8 JSON: decoding them gives back the very bytes that were signed.
  const payload = typeof body === 'string' ? body : new TextDecoder().decode(body)
  return new Webhook(secret).verify(payload, plainHeaders(headers)) as OutboundWebhookEvent
}
