import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import { SendEmailSchema } from '../routes/v1/email-schemas.js'
import { schemaError } from './error-handler.js'

type Reported = { message: string; code: string; field: unknown }

function report(error: ReturnType<typeof schemaError>): Reported {
  return { message: error.message, code: error.code, field: error.details?.['field'] }
}

/** The errors Fastify's TypeBox validator reports for `value` as a request body. */
function fastifyErrors(schema: TSchema, value: unknown): Parameters<typeof schemaError>[0] {
  const validate = TypeBoxValidatorCompiler({ schema, method: 'POST', url: '/', httpPart: 'body' })
  const result = validate(value) as { error?: Parameters<typeof schemaError>[0] }
  return result.error ?? []
}

const EMAIL = { from: 'a@example.com', to: 'b@example.com', subject: 'Hi', text: 'x' }

const ServerSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    security: Type.Optional(Type.Enum(['tls', 'starttls', 'none'])),
    dailyLimit: Type.Optional(Type.Integer({ minimum: 0 })),
    enabled: Type.Optional(Type.Boolean()),
    tags: Type.Optional(Type.Array(Type.String(), { maxItems: 2 })),
    limits: Type.Optional(Type.Object({ perHour: Type.Number() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
)
const SERVER = { name: 'main', port: 587 }

describe('schemaError, over what Fastify reports for a request body', () => {
  it.each<[string, TSchema, unknown, Reported]>([
    [
      'an unknown field',
      SendEmailSchema,
      { ...EMAIL, htm: '<p>' },
      { message: 'unknown field "htm"', code: 'VALIDATION_FAILED', field: 'body.htm' },
    ],
    [
      'a stream outside the union of literals',
      SendEmailSchema,
      { ...EMAIL, stream: 'bulk' },
      {
        message: 'stream must be one of transactional, mass',
        code: 'INVALID_STREAM',
        field: 'body.stream',
      },
    ],
    [
      'a recipient that is neither a string nor a list',
      SendEmailSchema,
      { ...EMAIL, to: 42 },
      {
        message: 'to must be a string or a list of strings',
        code: 'VALIDATION_FAILED',
        field: 'body.to',
      },
    ],
    [
      'a list holding a number',
      SendEmailSchema,
      { ...EMAIL, to: ['b@example.com', 3] },
      {
        message: 'to must be a string or a list of strings',
        code: 'VALIDATION_FAILED',
        field: 'body.to',
      },
    ],
    [
      'a missing required field',
      SendEmailSchema,
      { from: 'a@example.com', to: 'b@example.com' },
      { message: 'subject is required', code: 'VALIDATION_FAILED', field: 'body.subject' },
    ],
    [
      'a port over the range',
      ServerSchema,
      { ...SERVER, port: 70_000 },
      {
        message: 'port must be a whole number from 1 to 65535',
        code: 'INVALID_PORT',
        field: 'body.port',
      },
    ],
    [
      'a port that is not whole',
      ServerSchema,
      { ...SERVER, port: 1.5 },
      {
        message: 'port must be a whole number from 1 to 65535',
        code: 'INVALID_PORT',
        field: 'body.port',
      },
    ],
    [
      'a port given as a string',
      ServerSchema,
      { ...SERVER, port: '587' },
      {
        message: 'port must be a whole number from 1 to 65535',
        code: 'INVALID_PORT',
        field: 'body.port',
      },
    ],
    [
      'a name too long',
      ServerSchema,
      { ...SERVER, name: 'x'.repeat(129) },
      {
        message: 'name must be at most 128 characters',
        code: 'VALIDATION_FAILED',
        field: 'body.name',
      },
    ],
    [
      'an empty name',
      ServerSchema,
      { ...SERVER, name: '' },
      { message: 'name must not be empty', code: 'VALIDATION_FAILED', field: 'body.name' },
    ],
    [
      'a value outside an enum',
      ServerSchema,
      { ...SERVER, security: 'ssl' },
      {
        message: 'security must be one of tls, starttls, none',
        code: 'INVALID_SECURITY',
        field: 'body.security',
      },
    ],
    [
      'a negative limit with only a minimum',
      ServerSchema,
      { ...SERVER, dailyLimit: -1 },
      {
        message: 'dailyLimit must be a whole number of at least 0',
        code: 'INVALID_DAILY_LIMIT',
        field: 'body.dailyLimit',
      },
    ],
    [
      'a boolean given as a string',
      ServerSchema,
      { ...SERVER, enabled: 'yes' },
      {
        message: 'enabled must be true or false',
        code: 'VALIDATION_FAILED',
        field: 'body.enabled',
      },
    ],
    [
      'a list too long',
      ServerSchema,
      { ...SERVER, tags: ['a', 'b', 'c'] },
      { message: 'tags must have at most 2 items', code: 'VALIDATION_FAILED', field: 'body.tags' },
    ],
    [
      'an unknown field of a nested object',
      ServerSchema,
      { ...SERVER, limits: { perHour: 1, perDay: 2 } },
      {
        message: 'unknown field "limits.perDay"',
        code: 'VALIDATION_FAILED',
        field: 'body.limits.perDay',
      },
    ],
    [
      'a body that is not an object',
      ServerSchema,
      'text',
      { message: 'body must be an object', code: 'VALIDATION_FAILED', field: 'body' },
    ],
  ])('%s', (_name, schema, value, expected) => {
    const errors = fastifyErrors(schema, value)
    expect(errors.length).toBeGreaterThan(0)
    expect(report(schemaError(errors, 'body', schema))).toEqual(expected)
  })

  it('names the problem in words from the errors alone when the schema is not given', () => {
    const reported = (value: unknown) =>
      schemaError(fastifyErrors(ServerSchema, { ...SERVER, ...(value as object) })).message
    expect(reported({ port: 70_000 })).toBe('port must be at most 65535')
    expect(reported({ port: 'x' })).toBe('port must be a whole number')
    expect(reported({ security: 'ssl' })).toBe('security must be one of tls, starttls, none')
    expect(reported({ extra: 1 })).toBe('unknown field "extra"')
  })
})

describe('schemaError, over what typebox/compile reports for one email of a batch', () => {
  const validator = Compile(SendEmailSchema)

  it.each<[string, unknown, Reported]>([
    [
      'a stream outside the union',
      { ...EMAIL, stream: 'bulk' },
      {
        message: 'emails[2].stream must be one of transactional, mass',
        code: 'INVALID_STREAM',
        field: 'emails[2].stream',
      },
    ],
    [
      'an unknown field',
      { ...EMAIL, htm: '<p>' },
      {
        message: 'unknown field "htm" in emails[2]',
        code: 'VALIDATION_FAILED',
        field: 'emails[2].htm',
      },
    ],
    [
      'a missing subject',
      { from: 'a@example.com', to: 'b@example.com' },
      {
        message: 'emails[2].subject is required',
        code: 'VALIDATION_FAILED',
        field: 'emails[2].subject',
      },
    ],
  ])('%s', (_name, value, expected) => {
    const errors = [...validator.Errors(value)]
    expect(report(schemaError(errors, 'emails[2]', SendEmailSchema))).toEqual(expected)
  })
})
