import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ConfigCache, QuotaStore, ServerStateStore } from '@outbound/store'
import { quotaReport } from '../../quota-report.js'
import { Nullable, ServerStateViewSchema, stateView } from './config-schemas.js'

export type QuotaRoutesOptions = {
  configCache: ConfigCache
  quota: QuotaStore
  serverStates: ServerStateStore
  now: () => Date
}

const QuotaSchema = Type.Object({
  serverId: Type.String({ description: '`default` for the built-in default server' }),
  name: Type.String(),
  serverName: Type.String({
    description: 'the same as `name`; named as in message records, so a `read` key can match them',
  }),
  limit: Nullable(Type.Integer({ description: 'null: unlimited' })),
  used: Type.Integer({ description: 'units (recipients) handed over in this window' }),
  remaining: Nullable(Type.Integer()),
  reservedForTransactional: Type.Integer({
    description: 'the part of the limit mass mail may not use',
  }),
  windowStart: Type.String(),
  resetsAt: Type.String(),
  state: Nullable(ServerStateViewSchema),
})

export const quotaRoutes: FastifyPluginAsyncTypebox<QuotaRoutesOptions> = async (app, options) => {
  app.get(
    '/v1/quota',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['delivery facts'],
        summary: "Today's daily quota of every server and of the built-in default server",
        description:
          'The window is the calendar day in settings.quotaTimezone. Mass mail may use the limit only up to ' +
          '100 - transactionalReservePercent percent; over it, messages are deferred to resetsAt. `limit` is the ' +
          "limit in force (a warm-up schedule's day). `state` is the server's health (null for the default server).",
        response: { 200: Type.Array(QuotaSchema) },
      },
    },
    async () => {
      const snapshot = options.configCache.current()
      const report = await quotaReport(snapshot, options.quota, options.now(), options.serverStates)
      return report.map(({ state, ...entry }) => ({
        ...entry,
        serverName: entry.name,
        state:
          entry.serverId === 'default'
            ? null
            : stateView(
                state,
                snapshot.servers.find((s) => s.id === entry.serverId)?.createdAt ?? '',
              ),
      }))
    },
  )
}
