import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ComplaintStore } from '@outbound/store'
import { errorResponses, Nullable } from './config-schemas.js'

export type ComplaintRoutesOptions = { complaints: ComplaintStore }

/** A complaint as the API shows it (CONTRACT.md, Bulk mail). */
export const ComplaintSchema = Type.Object({
  id: Type.String(),
  messageId: Nullable(
    Type.String({ description: 'null: a complaint about mail this service did not send' }),
  ),
  recipient: Type.String({ description: 'the complaining address; now suppressed for all mail' }),
  feedbackType: Type.String({
    description: 'RFC 5965 Feedback-Type: abuse, fraud, virus, auth-failure, not-spam, other',
  }),
  serverId: Nullable(Type.String({ description: 'the server the message left through' })),
  at: Type.String({ description: 'when the report was received' }),
})

const ComplaintQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
)

export const complaintRoutes: FastifyPluginAsyncTypebox<ComplaintRoutesOptions> = async (
  app,
  options,
) => {
  app.get(
    '/v1/complaints',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['bounces and suppressions'],
        summary: 'Complaints from feedback loops, newest first',
        description:
          'Complaints read by POST /v1/bounces/inbound from ARF feedback reports, kept 180 days like bounces. ' +
          '`since` (ISO-8601) leaves out older ones; `limit` is 1 to 1000 (default 100). ' +
          'Errors: 400 VALIDATION_FAILED (the message names the field).',
        querystring: ComplaintQuery,
        response: {
          200: Type.Array(ComplaintSchema, {
            examples: [
              [
                {
                  id: 'cmp_01JDZ8Q6W3V7K2T9M4N5P6R7S8',
                  messageId: 'msg_01JDZ7X1Y2Z3A4B5C6D7E8F9G0',
                  recipient: 'reader@yahoo.example',
                  feedbackType: 'abuse',
                  serverId: 'srv_01JDZ0000000000000000000',
                  at: '2026-12-01T09:30:00.000Z',
                },
              ],
            ],
          }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { since, limit } = request.query
      const complaints = await options.complaints.listComplaints({
        ...(since === undefined ? {} : { since: new Date(since) }),
        limit: limit ?? 100,
      })
      return complaints.map(({ id, messageId, recipient, feedbackType, serverId, at }) => ({
        id,
        messageId,
        recipient,
        feedbackType,
        serverId,
        at,
      }))
    },
  )
}
