import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

export type HealthRoutesOptions = {
  ping: () => Promise<unknown>
  /** Configuration gaps that do not stop the API from working (e.g. PUBLIC_URL unset). */
  warnings?: readonly string[]
}

const Status = Type.Object({
  status: Type.String(),
  warnings: Type.Optional(Type.Array(Type.String())),
})

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (
  app,
  options,
) => {
  app.get(
    '/health',
    { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status } } },
    () => ({ status: 'ok' }),
  )

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Redis answers: the API can accept mail',
        response: { 200: Status, 503: Status },
      },
    },
    async (request, reply) => {
      try {
        await options.ping()
        const warnings = options.warnings ?? []
        return warnings.length === 0
          ? { status: 'ready' }
          : { status: 'ready', warnings: [...warnings] }
      } catch (err) {
        request.log.warn({ err }, 'not ready: Redis does not answer')
        return reply.status(503).send({ status: 'redis unreachable' })
      }
    },
  )
}
