import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** The OpenAPI document generated from the route schemas, and Swagger UI at /docs. */
export const openapi = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Outbound',
          version: '0.1.0',
          description:
            'Outbound-mail service: accepts email over HTTP, queues it in Redis and delivers it through SMTP.',
        },
        components: {
          securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
        },
        security: [{ apiKey: [] }],
      },
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
  },
  { name: 'openapi' },
)
