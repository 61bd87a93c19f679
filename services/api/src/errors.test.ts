import { describe, expect, it } from 'vitest'
import { AppError, ERROR_CODES } from './errors.js'

describe('ERROR_CODES', () => {
  // Codes are public (CONTRACT.md): one may be added, never renamed, removed or given another status.
  it('keeps every published code with its status', () => {
    expect(
      Object.fromEntries(Object.entries(ERROR_CODES).map(([code, [status]]) => [code, status])),
    ).toEqual({
      VALIDATION_FAILED: 400,
      INVALID_JSON: 400,
      INVALID_ADDRESS: 400,
      NO_RECIPIENTS: 400,
      TOO_MANY_RECIPIENTS: 400,
      MISSING_BODY: 400,
      SUBJECT_TOO_LONG: 400,
      INVALID_HEADER: 400,
      HEADER_NOT_ALLOWED: 400,
      TOO_MANY_ATTACHMENTS: 400,
      INVALID_ATTACHMENT: 400,
      INVALID_SCHEDULED_AT: 400,
      INVALID_STREAM: 400,
      INVALID_IDEMPOTENCY_KEY: 400,
      BATCH_TOO_LARGE: 400,
      INVALID_HOST: 400,
      INVALID_PORT: 400,
      INVALID_SECURITY: 400,
      INVALID_SEQUENCE: 400,
      INVALID_DAILY_LIMIT: 400,
      INVALID_FROM_FILTER: 400,
      INVALID_DOMAIN: 400,
      INVALID_ALIAS: 400,
      INVALID_SELECTOR: 400,
      INVALID_TIMEZONE: 400,
      INVALID_SETTING: 400,
      UNAUTHORIZED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      MESSAGE_NOT_FOUND: 404,
      NOT_CANCELLABLE: 409,
      SERVER_IN_USE: 409,
      ALIAS_DOMAIN_IN_USE: 409,
      ALIAS_DOMAIN_EXISTS: 409,
      DKIM_SELECTOR_EXISTS: 409,
      TOO_MANY_OBJECTS: 409,
      IDEMPOTENCY_CONFLICT: 409,
      REQUEST_TIMEOUT: 408,
      PAYLOAD_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
      HEADERS_TOO_LARGE: 431,
      UNKNOWN_SERVER: 422,
      UNKNOWN_COMPANY: 422,
      RECIPIENT_SUPPRESSED: 422,
      NOT_A_BOUNCE: 422,
      SUPPRESSION_NOT_FOUND: 404,
      UNKNOWN_ALIAS_DOMAIN: 422,
      SERVER_INACTIVE: 422,
      SERVER_NOT_FOUND: 404,
      ALIAS_DOMAIN_NOT_FOUND: 404,
      DKIM_KEY_NOT_FOUND: 404,
      COMPANY_NOT_FOUND: 404,
      WEBHOOK_NOT_FOUND: 404,
      WEBHOOK_EVENT_NOT_FOUND: 404,
      WEBHOOK_INACTIVE: 409,
      INVALID_URL: 400,
      INVALID_EVENT_TYPE: 400,
      WEBHOOK_URL_NOT_ALLOWED: 422,
      SECRET_KEY_MISSING: 422,
      RATE_LIMITED: 429,
      SERVICE_UNAVAILABLE: 503,
      INTERNAL_ERROR: 500,
    })
  })

  it('renders the contract body', () => {
    expect(new AppError('UNKNOWN_SERVER', 'no outgoing server srv_9').toBody()).toEqual({
      statusCode: 422,
      code: 'UNKNOWN_SERVER',
      error: 'Unprocessable Entity',
      message: 'no outgoing server srv_9',
    })
  })
})
