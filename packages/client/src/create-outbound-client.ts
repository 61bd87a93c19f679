import createClient, { type Client, type Middleware } from 'openapi-fetch'
import type { paths } from './generated/openapi.js'
import { type RetryOptions, retryingFetch } from './retrying-fetch.js'

export type OutboundClientOptions = {
  /** Where the API listens, e.g. `https://outbound.internal` (no `/v1`). */
  baseUrl: string
  /** An API key, sent as `Authorization: Bearer <key>`; omit when auth is off (loopback). */
  apiKey?: string
  /** Retries of 429 and 503 answers; `false` turns them off. */
  retry?: RetryOptions | false
  /** The fetch to use (default: the global one). */
  fetch?: (request: Request) => Promise<Response>
  /** Headers sent with every request. */
  headers?: Record<string, string>
}

/** The typed client: openapi-fetch over the API's generated `paths`. */
export type OutboundClient = Client<paths>

// The routes that accept an Idempotency-Key: the sends.
const SEND_PATHS = new Set(['/v1/emails', '/v1/emails/batch'])

/**
 * Gives every send an Idempotency-Key when the caller gave none, so that a retry of the same call
 * (by this client after a 429/503, or by the caller after a lost answer with the same key) never
 * sends the message twice.
 */
const idempotencyKeys: Middleware = {
  onRequest({ request, schemaPath }) {
    if (request.method !== 'POST' || !SEND_PATHS.has(schemaPath)) return undefined
    if (!request.headers.has('idempotency-key'))
      request.headers.set('idempotency-key', crypto.randomUUID())
    return request
  },
}

/**
 * A client of the Outbound API. Every route is a typed call, e.g.
 * `client.POST('/v1/emails', { body })` → `{ data, error, response }`; `error` is the API's
 * `{statusCode, code, error, message}` for a refusal.
 */
export function createOutboundClient(options: OutboundClientOptions): OutboundClient {
  const baseFetch = options.fetch ?? ((request: Request) => globalThis.fetch(request))
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: options.retry === false ? baseFetch : retryingFetch(baseFetch, options.retry),
    headers: {
      ...options.headers,
      ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }),
    },
  })
  client.use(idempotencyKeys)
  return client
}
