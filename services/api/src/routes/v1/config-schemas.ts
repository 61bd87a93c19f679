import type { ServerState } from '@outbound/quota'
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

/** A server's health as every view shows it (CONTRACT.md, Outgoing servers: shaping). */
export const ServerStateViewSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('throttled'), Type.Literal('down')]),
  since: Type.String(),
  until: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  consecutiveFailures: Type.Integer(),
})

/** The view of a server's state; a server never recorded is ok since it was created. */
export function stateView(state: ServerState | null, createdAt: string) {
  if (state === null)
    return {
      status: 'ok' as const,
      since: createdAt,
      until: null,
      reason: null,
      consecutiveFailures: 0,
    }
  const { status, since, until, reason, consecutiveFailures } = state
  return { status, since, until, reason, consecutiveFailures }
}
