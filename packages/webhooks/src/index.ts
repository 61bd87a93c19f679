export {
  /** The current secret and the rotated-out ones still signing at a time. */
  activeSecrets,
  type SealedSecret,
} from './active-secrets.js'
export {
  /** True for a public unicast IP address; false for loopback, private, link-local and the like. */
  isPublicAddress,
} from './address-policy.js'
export {
  type LookupAll,
  MAX_WEBHOOK_URL_CHARS,
  /** An http(s) URL of at most 2,048 characters, else null. */
  parseWebhookUrl,
  type ResolveResult,
  /** Resolves a URL's host once and refuses unsafe addresses unless private ones are allowed. */
  resolveWebhookUrl,
} from './resolve-webhook-url.js'
export { MAX_REPLY_BYTES } from './post-webhook.js'
export {
  type OutgoingEvent,
  type SendOptions,
  type SendResult,
  /** Checks, signs and posts one event to one URL; never throws. */
  sendWebhook,
  /** The exact JSON an event is sent and signed as. */
  webhookBody,
} from './send-webhook.js'
export {
  /** A new `whsec_…` endpoint secret. */
  newWebhookSecret,
} from './webhook-secret.js'
