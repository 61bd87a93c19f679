import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, type ErrorCode } from '../errors.js'

type SchemaError = { instancePath?: string; message?: string }

// Fields whose schema failures have a code of their own.
const FIELD_CODES: Readonly<Partial<Record<string, ErrorCode>>> = {
  stream: 'INVALID_STREAM',
  host: 'INVALID_HOST',
  port: 'INVALID_PORT',
  security: 'INVALID_SECURITY',
  sequence: 'INVALID_SEQUENCE',
  dailyLimit: 'INVALID_DAILY_LIMIT',
}

function schemaErrorCode(errors: readonly SchemaError[]): ErrorCode {
  const field = errors[0]?.instancePath?.split('/')[1] ?? ''
  return FIELD_CODES[field] ?? 'VALIDATION_FAILED'
}

/** A schema failure as an AppError: the first problem, with the field it is about. */
export function schemaError(errors: readonly SchemaError[], context = 'body'): AppError {
  const first = errors[0]
  const path = first?.instancePath ?? ''
  const field = path.replace(/^\//, '').replaceAll('/', '.')
  const where = field === '' ? context : `${context}.${field}`
  return new AppError(schemaErrorCode(errors), `${where} ${first?.message ?? 'is not valid'}`, {
    field: where,
  })
}

function isRedisUnavailable(error: Error): boolean {
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ETIMEDOUT|MaxRetriesPerRequest/i.test(
    error.message,
  )
}

function toAppError(error: FastifyError): AppError | undefined {
  if (error instanceof AppError) return error
  if (error.validation !== undefined) return schemaError(error.validation, error.validationContext)
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'the request body is larger than this route accepts')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('INVALID_JSON', 'the body is not valid JSON')
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return new AppError('INVALID_JSON', 'the body is not valid JSON')
  }
  if (isRedisUnavailable(error)) {
    return new AppError(
      'SERVICE_UNAVAILABLE',
      'the message store is unavailable; nothing was enqueued, retry later',
    )
  }
  return undefined
}

/** Answers every error as `{statusCode, code, error, message}`; the unexpected ones are logged in full. */
export const errorHandler = fp(
  (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const appError = toAppError(error)
      if (appError === undefined) {
        request.log.error({ err: error }, 'unexpected error')
        return reply
          .status(500)
          .send(new AppError('INTERNAL_ERROR', 'an unexpected error occurred').toBody())
      }
      if (appError.statusCode >= 500) request.log.warn({ err: error }, 'request failed')
      return reply.status(appError.statusCode).send(appError.toBody())
    })
    app.setNotFoundHandler((request, reply) => {
      const error = new AppError(
        'NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
      )
      return reply.status(404).send(error.toBody())
    })
  },
  { name: 'error-handler' },
)
