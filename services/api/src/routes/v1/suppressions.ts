import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { normalizeAddressText, parseMailbox } from '@outbound/address'
import type { BounceStore } from '@outbound/store'
import { AppError } from '../../errors.js'
import { errorResponses } from './config-schemas.js'

export type SuppressionRoutesOptions = { bounces: BounceStore; now: () => Date }

const SuppressionSchema = Type.Object({
  address: Type.String(),
  reason: Type.String(),
  source: Type.Union([Type.Literal('bounce'), Type.Literal('manual'), Type.Literal('complaint')]),
  createdAt: Type.String(),
})

export const suppressionRoutes: FastifyPluginAsyncTypebox<SuppressionRoutesOptions> = async (
  app,
  options,
) => {
  const tags = ['bounces and suppressions']

  app.get(
    '/v1/suppressions',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'Addresses that are not mailed again, newest first',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0 })),
        }),
        response: { 200: Type.Array(SuppressionSchema) },
      },
    },
    async (request) =>
      await options.bounces.listSuppressions(
        request.query.limit ?? 1000,
        request.query.offset ?? 0,
      ),
  )

  app.post(
    '/v1/suppressions',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Stop mailing an address',
        body: Type.Object(
          {
            address: Type.String({ maxLength: 320 }),
            reason: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: SuppressionSchema,
          200: SuppressionSchema,
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const mailbox = parseMailbox(request.body.address)
      if (mailbox === null || mailbox.name !== null) {
        throw new AppError('INVALID_ADDRESS', 'address must be one bare email address', {
          field: 'address',
        })
      }
      const suppression = {
        address: normalizeAddressText(mailbox.address),
        reason: request.body.reason ?? 'added by hand',
        source: 'manual' as const,
        createdAt: options.now().toISOString(),
      }
      const added = await options.bounces.addSuppression(suppression)
      const stored = added
        ? suppression
        : ((await options.bounces.getSuppression(suppression.address)) ?? suppression)
      return reply.status(added ? 201 : 200).send(stored)
    },
  )

  app.delete(
    '/v1/suppressions/:address',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Mail an address again',
        params: Type.Object({ address: Type.String({ maxLength: 320 }) }),
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      if (
        !(await options.bounces.removeSuppression(normalizeAddressText(request.params.address)))
      ) {
        throw new AppError('SUPPRESSION_NOT_FOUND', `${request.params.address} is not suppressed`)
      }
      return reply.status(204).send(null)
    },
  )
}
