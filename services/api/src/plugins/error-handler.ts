import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, type ErrorCode } from '../errors.js'

/** One schema failure as the validators report it (AJV's shape; TypeBox's `Errors()` too). */
type SchemaError = {
  keyword?: string
  instancePath?: string
  schemaPath?: string
  params?: Readonly<Record<string, unknown>>
  message?: string
}
type Schema = Readonly<Record<string, unknown>>

// Fields whose schema failures have a code of their own.
const FIELD_CODES: Readonly<Partial<Record<string, ErrorCode>>> = {
  stream: 'INVALID_STREAM',
  host: 'INVALID_HOST',
  port: 'INVALID_PORT',
  security: 'INVALID_SECURITY',
  sequence: 'INVALID_SEQUENCE',
  dailyLimit: 'INVALID_DAILY_LIMIT',
  rateLimit: 'INVALID_RATE_LIMIT',
  warmupSchedule: 'INVALID_WARMUP_SCHEDULE',
}

// Fastify's own request parts: a field of the body is named bare ("subject is required").
const REQUEST_PARTS = new Set(['body', 'querystring', 'params', 'headers'])

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The sub-schema a `schemaPath` (`#/properties/port/anyOf/0`) points at, if it can be followed. */
function schemaAt(root: unknown, schemaPath: string | undefined): Schema | undefined {
  if (schemaPath === undefined || !schemaPath.startsWith('#')) return undefined
  let node: unknown = root
  for (const segment of schemaPath.slice(1).split('/').filter(Boolean)) {
    if (!isSchema(node) && !Array.isArray(node)) return undefined
    const key = segment.replaceAll('~1', '/').replaceAll('~0', '~')
    node = (node as Record<string, unknown>)[key]
  }
  return isSchema(node) ? node : undefined
}

function literal(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function numberOf(schema: Schema, key: string): number | undefined {
  const value = schema[key]
  return typeof value === 'number' ? value : undefined
}

/** The literal values a schema allows (`const`, `enum`, a union of those), or undefined. */
function allowedValues(schema: Schema): unknown[] | undefined {
  if ('const' in schema) return [schema['const']]
  if (Array.isArray(schema['enum'])) return schema['enum'] as unknown[]
  const branches = schema['anyOf'] ?? schema['oneOf']
  if (!Array.isArray(branches)) return undefined
  const values: unknown[] = []
  for (const branch of branches) {
    const inner = isSchema(branch) ? allowedValues(branch) : undefined
    if (inner === undefined) return undefined
    values.push(...inner)
  }
  return values
}

function range(schema: Schema): string {
  const min = numberOf(schema, 'minimum')
  const max = numberOf(schema, 'maximum')
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`
  if (min !== undefined) return ` of at least ${min}`
  if (max !== undefined) return ` of at most ${max}`
  return ''
}

const PLURALS: Readonly<Record<string, string>> = {
  string: 'strings',
  integer: 'whole numbers',
  number: 'numbers',
  boolean: 'booleans',
  object: 'objects',
}

/** What a schema allows, as a noun phrase: "a whole number from 1 to 65535", "one of a, b". */
function describe(schema: Schema): string {
  const values = allowedValues(schema)
  if (values !== undefined) {
    return values.length === 1 ? literal(values[0]) : `one of ${values.map(literal).join(', ')}`
  }
  const branches = schema['anyOf'] ?? schema['oneOf']
  if (Array.isArray(branches)) {
    const phrases = branches.filter(isSchema).map(describe)
    return phrases.length <= 2
      ? phrases.join(' or ')
      : `${phrases.slice(0, -1).join(', ')} or ${phrases.at(-1) ?? ''}`
  }
  switch (schema['type']) {
    case 'string':
      return 'a string'
    case 'integer':
      return `a whole number${range(schema)}`
    case 'number':
      return `a number${range(schema)}`
    case 'boolean':
      return 'true or false'
    case 'null':
      return 'null'
    case 'object':
      return 'an object'
    case 'array': {
      const items = schema['items']
      const type = isSchema(items) && typeof items['type'] === 'string' ? items['type'] : ''
      return `a list of ${PLURALS[type] ?? 'values'}`
    }
    default:
      return 'a valid value'
  }
}

// Used when the schema cannot be followed: the validator's type names in words.
const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
}

function param(error: SchemaError, key: string): unknown {
  return error.params?.[key]
}

/** What is wrong with the value, after its field name: "must be at most 128 characters". */
function problem(error: SchemaError, schema: Schema | undefined): string {
  const limit = literal(param(error, 'limit'))
  const isNumber = schema?.['type'] === 'integer' || schema?.['type'] === 'number'
  switch (error.keyword ?? '') {
    case 'type':
    case 'anyOf':
    case 'oneOf':
    case 'const':
    case 'enum':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
      if (schema !== undefined && (isNumber || !(error.keyword ?? '').includes('imum'))) {
        return `must be ${describe(schema)}`
      }
      return fallbackProblem(error)
    case 'maxLength':
      return `must be at most ${limit} characters`
    case 'minLength':
      return limit === '1' ? 'must not be empty' : `must be at least ${limit} characters`
    case 'maxItems':
      return `must have at most ${limit} items`
    case 'minItems':
      return limit === '1' ? 'must not be empty' : `must have at least ${limit} items`
    case 'maxProperties':
      return `must have at most ${limit} entries`
    case 'minProperties':
      return `must have at least ${limit} entries`
    case 'uniqueItems':
      return 'must not repeat an item'
    case 'format':
      return `must be a valid ${literal(param(error, 'format'))}`
    case 'pattern':
      return `must match the pattern ${literal(param(error, 'pattern'))}`
    default:
      return error.message ?? 'is not valid'
  }
}

function fallbackProblem(error: SchemaError): string {
  const limit = literal(param(error, 'limit'))
  switch (error.keyword ?? '') {
    case 'type':
      return `must be ${TYPE_WORDS[literal(param(error, 'type'))] ?? literal(param(error, 'type'))}`
    case 'const':
      return `must be ${literal(param(error, 'allowedValue'))}`
    case 'enum': {
      const values = param(error, 'allowedValues')
      return Array.isArray(values)
        ? `must be one of ${values.map(literal).join(', ')}`
        : 'is not an allowed value'
    }
    case 'minimum':
      return `must be at least ${limit}`
    case 'maximum':
      return `must be at most ${limit}`
    case 'exclusiveMinimum':
      return `must be more than ${limit}`
    case 'exclusiveMaximum':
      return `must be less than ${limit}`
    default:
      return 'is not one of the allowed forms'
  }
}

/**
 * The failure to report: the first one, or, when it is one branch of a union, the union itself
 * (its error comes after its branches'). An `additionalProperties: false` branch failure gives way
 * to the additionalProperties error that names the field.
 */
function mainError(errors: readonly SchemaError[]): SchemaError | undefined {
  const first =
    errors.find(
      (e) => !(e.keyword === 'boolean' && e.schemaPath?.endsWith('/additionalProperties')),
    ) ?? errors[0]
  if (first === undefined) return undefined
  let chosen = first
  for (const error of errors) {
    const path = error.schemaPath
    if ((error.keyword === 'anyOf' || error.keyword === 'oneOf') && path !== undefined) {
      const outer = chosen.schemaPath ?? ''
      if (
        outer.startsWith(`${path}/`) &&
        (chosen.instancePath ?? '').startsWith(error.instancePath ?? '')
      ) {
        chosen = error
      }
    }
  }
  return chosen
}

function firstName(names: unknown): string {
  return Array.isArray(names) ? literal(names[0]) : names === undefined ? '' : literal(names)
}

function joinPath(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('.')
}

/**
 * A schema failure as an AppError that names the field and what it allows: `unknown field "htm"`,
 * `stream must be one of transactional, mass`, `subject is required`. `schema` is the schema the
 * value was checked against (its sub-schemas describe what is allowed); without it the message
 * says what the validator reported, in words.
 */
export function schemaError(
  errors: readonly SchemaError[],
  context = 'body',
  schema?: unknown,
): AppError {
  const error = mainError(errors)
  let field = (error?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.')
  const code = FIELD_CODES[field.split('.')[0] ?? ''] ?? 'VALIDATION_FAILED'
  const prefix = REQUEST_PARTS.has(context) ? '' : context
  let message: string
  if (error?.keyword === 'required') {
    field = joinPath(
      field,
      firstName(param(error, 'requiredProperties') ?? param(error, 'missingProperty')),
    )
    message = `${joinPath(prefix, field)} is required`
  } else if (error?.keyword === 'additionalProperties') {
    field = joinPath(
      field,
      firstName(param(error, 'additionalProperties') ?? param(error, 'additionalProperty')),
    )
    message = `unknown field "${field}"${prefix === '' ? '' : ` in ${prefix}`}`
  } else {
    const named = joinPath(prefix, field)
    const what =
      error === undefined ? 'is not valid' : problem(error, schemaAt(schema, error.schemaPath))
    message = `${named === '' ? context : named} ${what}`
  }
  return new AppError(code, message, { field: joinPath(context, field) })
}

function isRedisUnavailable(error: Error): boolean {
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ETIMEDOUT|MaxRetriesPerRequest/i.test(
    error.message,
  )
}

function toAppError(error: FastifyError, request: FastifyRequest): AppError | undefined {
  if (error instanceof AppError) return error
  if (error.validation !== undefined) {
    const context = error.validationContext ?? 'body'
    const schemas: Partial<Record<string, unknown>> = { ...request.routeOptions.schema }
    return schemaError(error.validation, context, schemas[context])
  }
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
      const appError = toAppError(error, request)
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
