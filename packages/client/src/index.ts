export {
  /** A client of the Outbound API: typed calls for every route, Idempotency-Key, retries. */
  createOutboundClient,
  type OutboundClient,
  type OutboundClientOptions,
} from './create-outbound-client.js'
export type { paths } from './generated/openapi.js'
export {
  /** Retry-After in milliseconds (delay-seconds or an HTTP date); null when absent or unreadable. */
  retryAfterMs,
  type RetryOptions,
} from './retrying-fetch.js'
export {
  type OutboundWebhookEvent,
  /** Checks a webhook request's signature and returns its event; throws when it does not hold. */
  verifyWebhook,
  type WebhookHeaders,
} from './verify-webhook.js'
export { WebhookVerificationError } from 'standardwebhooks'
