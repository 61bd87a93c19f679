/**
 * Every error code the API answers with: its HTTP status and what it means. CONTRACT.md names the
 * public ones; a code is never renamed or reused for another meaning (a test pins this list).
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: [400, 'the request does not match the schema (the message names the field)'],
  INVALID_JSON: [400, 'the body is not valid JSON'],
  INVALID_ADDRESS: [400, 'an address is not exactly one valid RFC 5322 mailbox'],
  NO_RECIPIENTS: [400, 'to, cc and bcc are all empty'],
  TOO_MANY_RECIPIENTS: [400, 'more recipients than MAX_RECIPIENTS'],
  MISSING_BODY: [400, 'neither text nor html is given'],
  SUBJECT_TOO_LONG: [400, 'the subject is longer than MAX_SUBJECT_CHARS'],
  INVALID_HEADER: [
    400,
    'a header name is not a token, or a header-bound value has CR, LF or a control character',
  ],
  HEADER_NOT_ALLOWED: [400, 'the header is one the service writes itself'],
  TOO_MANY_ATTACHMENTS: [400, 'more attachments than MAX_ATTACHMENTS'],
  INVALID_ATTACHMENT: [400, 'an attachment has invalid base64, filename or content type'],
  INVALID_SCHEDULED_AT: [
    400,
    'scheduledAt is not an ISO-8601 time with a zone, or is over 30 days ahead',
  ],
  INVALID_STREAM: [400, 'stream is not transactional or mass'],
  INVALID_LIST: [400, 'list is not 1 to 100 characters of A-Z, a-z, 0-9, ".", "_" and "-"'],
  TOO_MANY_MASS_RECIPIENTS: [
    400,
    'a mass message whose one-click unsubscribe the service makes has more than one recipient',
  ],
  INVALID_CSV: [400, 'the CSV cannot be read (the message says where)'],
  INVALID_STATUS: [400, 'the status filter is not one of the message statuses'],
  INVALID_TIME_RANGE: [
    400,
    'since or until is not an ISO-8601 time with a zone, or since is not before until',
  ],
  INVALID_LIMIT: [400, 'limit is not a whole number from 1 to 100'],
  INVALID_CURSOR: [400, 'cursor is not a nextCursor this API gave'],
  INVALID_IDEMPOTENCY_KEY: [
    400,
    'the Idempotency-Key header is not 1 to 256 visible ASCII characters (spaces inside allowed)',
  ],
  BATCH_TOO_LARGE: [400, 'a batch has no emails or more than 1000'],
  INVALID_HOST: [400, 'host is not a host name or IP address'],
  INVALID_PORT: [400, 'port is not a whole number from 1 to 65535'],
  INVALID_SECURITY: [400, 'security is not none, starttls or tls'],
  INVALID_SEQUENCE: [400, 'sequence is not a whole number'],
  INVALID_DAILY_LIMIT: [400, 'dailyLimit is not a whole number of 0 or more (or null)'],
  INVALID_RATE_LIMIT: [400, 'rateLimit is not "<n>/s", "<n>/min" or "<n>/h" with n ≥ 1 (or null)'],
  INVALID_WARMUP_SCHEDULE: [400, 'warmupSchedule is not a list of 1 to 365 daily limits (or null)'],
  INVALID_FROM_FILTER: [400, 'a from filter part is neither a domain nor an address'],
  INVALID_DOMAIN: [400, 'an alias domain name is not a domain name'],
  INVALID_ALIAS: [
    400,
    'an alias is empty once sanitised, or defaultFrom is not an address or local part',
  ],
  INVALID_SELECTOR: [400, 'a DKIM selector is 1-63 lower-case letters, digits and hyphens'],
  INVALID_TIMEZONE: [400, 'quotaTimezone is not an IANA time zone'],
  INVALID_SETTING: [400, 'a setting is out of its range (the message says which)'],
  UNAUTHORIZED: [401, 'no valid API key was given'],
  FORBIDDEN: [403, 'the API key lacks the scope this route needs'],
  NOT_FOUND: [404, 'no such route'],
  MESSAGE_NOT_FOUND: [404, 'no message with this id'],
  RAW_NOT_AVAILABLE: [
    404,
    'no raw source is kept: not handed over yet, or past RAW_RETENTION_DAYS (0: none kept)',
  ],
  NOT_CANCELLABLE: [409, 'the message was already handed to a server, or has a final status'],
  NOT_RETRYABLE: [409, 'the message is neither deferred nor failed with recipients left to retry'],
  SERVER_IN_USE: [409, 'the server is the dedicated mass server (settings.massDedicatedServerId)'],
  ALIAS_DOMAIN_IN_USE: [409, 'a company uses this alias domain'],
  ALIAS_DOMAIN_EXISTS: [409, 'an alias domain with this name exists'],
  DKIM_SELECTOR_EXISTS: [409, 'the alias domain has a DKIM key under this selector'],
  TOO_MANY_OBJECTS: [409, 'the configuration holds the most objects of this kind allowed'],
  IDEMPOTENCY_CONFLICT: [
    409,
    'the Idempotency-Key was used with a different body in the last 24 h',
  ],
  REQUEST_TIMEOUT: [408, 'the request (headers and body) did not arrive in full within 30 s'],
  PAYLOAD_TOO_LARGE: [413, 'the request, the body or the attachments exceed their size limit'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'the body is not application/json'],
  HEADERS_TOO_LARGE: [431, 'the request headers exceed 16 KiB'],
  UNKNOWN_SERVER: [422, 'serverId names no outgoing server'],
  UNKNOWN_COMPANY: [422, 'companyId names no company'],
  RECIPIENT_SUPPRESSED: [
    422,
    'every recipient is on the suppression list (details.recipients names them)',
  ],
  NOT_A_BOUNCE: [
    422,
    'the message given to POST /v1/bounces/inbound is not a bounce (it is kept for inspection)',
  ],
  COMPLAINT_WITHOUT_RECIPIENT: [
    422,
    'a feedback report names no recipient, and its original is not one of our messages with a single recipient',
  ],
  STATS_RANGE_TOO_LARGE: [
    400,
    'GET /v1/stats spans more than 744 hours (interval=hour) or 400 days (interval=day); details.maxBuckets',
  ],
  SUPPRESSION_NOT_FOUND: [404, 'the address is not on the suppression list'],
  UNKNOWN_ALIAS_DOMAIN: [422, 'aliasDomainId names no alias domain'],
  SERVER_INACTIVE: [422, 'serverId names a server that is not active'],
  SERVER_NOT_FOUND: [404, 'no outgoing server with this id'],
  ALIAS_DOMAIN_NOT_FOUND: [404, 'no alias domain with this id'],
  DKIM_KEY_NOT_FOUND: [404, 'the alias domain has no DKIM key under this selector'],
  COMPANY_NOT_FOUND: [404, 'no company with this id'],
  WEBHOOK_NOT_FOUND: [404, 'no webhook endpoint with this id'],
  WEBHOOK_EVENT_NOT_FOUND: [404, 'no event with this id is kept (events are kept 7 days)'],
  WEBHOOK_INACTIVE: [409, 'the webhook endpoint is not active'],
  INVALID_URL: [400, 'url is not an http:// or https:// URL of at most 2,048 characters'],
  INVALID_EVENT_TYPE: [400, 'an event type is not one of the catalogue, and not ["*"] alone'],
  WEBHOOK_URL_NOT_ALLOWED: [
    422,
    'the webhook URL is or resolves to a loopback, private, link-local or metadata address',
  ],
  SECRET_KEY_MISSING: [422, 'a password cannot be stored without OUTBOUND_SECRET_KEY'],
  RATE_LIMITED: [
    429,
    'more send requests than RATE_LIMIT_SEND_PER_MINUTE for this API key; see Retry-After',
  ],
  SERVICE_UNAVAILABLE: [503, 'Redis cannot be reached; nothing was enqueued, retry later'],
  INTERNAL_ERROR: [500, 'an unexpected error; it is logged with the request id'],
} as const satisfies Record<string, readonly [number, string]>

export type ErrorCode = keyof typeof ERROR_CODES

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  431: 'Request Header Fields Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** The JSON body of every error answer (CONTRACT.md). */
export type ErrorBody = {
  statusCode: number
  code: ErrorCode
  error: string
  message: string
  details?: Record<string, unknown>
}

/** A client-facing failure: a stable code, its status, and a message that is safe to show. */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'AppError'
    this.code = code
    this.statusCode = ERROR_CODES[code][0]
    this.details = details
  }

  toBody(): ErrorBody {
    return {
      statusCode: this.statusCode,
      code: this.code,
      error: STATUS_TEXT[this.statusCode] ?? 'Error',
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
    }
  }
}
