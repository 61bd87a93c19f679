import { Type } from 'typebox'
import { ErrorSchema } from './email-schemas.js'

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, ErrorSchema]))

// Bounds on configuration object counts (each snapshot is read whole by every process).
export const MAX_SERVERS = 500
export const MAX_ALIAS_DOMAINS = 500
export const MAX_COMPANIES = 5000
