import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

export type HealthRoutesOptions = { ping: () => Promise<unknown> }

const Status = Type.Object({ status: Type.String() })

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
        return { status: 'ready' }
      } catch (err) {
        request.log.warn({ err }, 'not ready: Redis does not answer')
        return reply.status(503).send({ status: 'redis unreachable' })
      }
    },
  )
}
