import type { WebhookEvent } from '@outbound/jobs'
import { postWebhook, type PostResult } from './post-webhook.js'
import { type LookupAll, parseWebhookUrl, resolveWebhookUrl } from './resolve-webhook-url.js'
import { signWebhook } from './webhook-secret.js'

/** An event as a request sends it: any event type, `webhook.test` included. */
export type OutgoingEvent = Omit<WebhookEvent, 'type'> & { type: string }

/** One attempt's outcome: the endpoint's reply, no reply, or the URL refused before connecting. */
export type SendResult = PostResult | { kind: 'refused'; error: string; durationMs: 0 }

export type SendOptions = {
  /** The secrets to sign with, current first (more than one during a rotation). */
  secrets: readonly string[]
  /** When the attempt is made: the `webhook-timestamp`. */
  at: Date
  allowPrivate: boolean
  timeoutMs: number
  lookup?: LookupAll
}

/** The exact bytes an event is sent as (and signed over): `{"type","timestamp","data"}`. */
export function webhookBody(event: OutgoingEvent): string {
  return JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data })
}

/**
 * Sends one event to one URL as the Standard Webhooks specification says: the URL is checked
 * again (DNS may have changed), then the request is signed and posted. Never throws.
 */
export async function sendWebhook(
  urlText: string,
  event: OutgoingEvent,
  options: SendOptions,
): Promise<SendResult> {
  const url = parseWebhookUrl(urlText)
  if (url === null) return { kind: 'refused', error: 'not an http(s) URL', durationMs: 0 }
  const resolved = await resolveWebhookUrl(url, {
    allowPrivate: options.allowPrivate,
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  })
  if (!resolved.ok) return { kind: 'refused', error: resolved.detail, durationMs: 0 }
  const body = webhookBody(event)
  return await postWebhook(
    resolved.target,
    body,
    {
      'content-type': 'application/json',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(options.at.getTime() / 1000)),
      'webhook-signature': signWebhook(options.secrets, event.id, options.at, body),
    },
    options.timeoutMs,
  )
}
