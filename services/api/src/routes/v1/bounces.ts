import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { normalizeAddressText } from '@outbound/address'
import { AppError } from '../../errors.js'
import { type InboundDeps, recordInboundBounce } from '../../record-inbound-bounce.js'
import { type ComplaintDeps, recordInboundComplaint } from '../../record-inbound-complaint.js'
import { ComplaintSchema } from './complaints.js'
import { errorResponses, Nullable } from './config-schemas.js'

export type BounceRoutesOptions = InboundDeps & ComplaintDeps

const MAX_INBOUND_BYTES = 10 * 1024 * 1024
// What is kept of a message that was not a bounce, for inspection.
const KEPT_BYTES = 256 * 1024

const BounceSchema = Type.Object({
  id: Type.String(),
  messageId: Nullable(
    Type.String({ description: 'null: a bounce for mail this service did not send' }),
  ),
  recipient: Type.String(),
  kind: Type.Union([Type.Literal('hard'), Type.Literal('soft')], {
    description: 'hard only when the address itself is bad (user_unknown, host_unknown)',
  }),
  permanent: Type.Boolean({ description: 'a 5xx reply or a 5.x.x status' }),
  reason: Type.String({
    description:
      'user_unknown, host_unknown, mailbox_full, message_too_big, policy, spam, rate_limited, expired, temporary, other',
  }),
  source: Type.Union([Type.Literal('smtp'), Type.Literal('dsn')]),
  smtpCode: Nullable(Type.Integer()),
  enhancedCode: Nullable(Type.String()),
  diagnostic: Nullable(Type.String()),
  rule: Type.String({ description: 'the classification rule that matched' }),
  at: Type.String(),
})

const BounceQuery = Type.Object(
  {
    recipient: Type.Optional(Type.String({ maxLength: 320 })),
    messageId: Type.Optional(Type.String({ maxLength: 64 })),
    kind: Type.Optional(Type.Union([Type.Literal('hard'), Type.Literal('soft')])),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
)

export const bounceRoutes: FastifyPluginAsyncTypebox<BounceRoutesOptions> = async (
  app,
  options,
) => {
  const tags = ['bounces and suppressions']

  // A bounce arrives as the raw message (message/rfc822), or as plain bytes.
  for (const type of ['message/rfc822', 'application/octet-stream']) {
    app.addContentTypeParser(
      type,
      { parseAs: 'buffer', bodyLimit: MAX_INBOUND_BYTES },
      (_request, body, done) => {
        done(null, body)
      },
    )
  }

  app.get(
    '/v1/bounces',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'Bounce records, newest first',
        querystring: BounceQuery,
        response: { 200: Type.Array(BounceSchema), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { recipient, messageId, kind, since, limit } = request.query
      return await options.bounces.listBounces({
        ...(recipient === undefined ? {} : { recipient: normalizeAddressText(recipient) }),
        ...(messageId === undefined ? {} : { messageId }),
        ...(kind === undefined ? {} : { kind }),
        ...(since === undefined ? {} : { since: new Date(since) }),
        limit: limit ?? 100,
      })
    },
  )

  app.get(
    '/v1/bounces/counts',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: "An address's bounce counters",
        querystring: Type.Object(
          { recipient: Type.String({ minLength: 3, maxLength: 320 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            recipient: Type.String(),
            hard: Type.Integer(),
            soft: Type.Integer(),
            total: Type.Integer(),
            lastAt: Nullable(Type.String()),
            suppressed: Type.Boolean(),
          }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const recipient = normalizeAddressText(request.query.recipient)
      const [history, suppression] = await Promise.all([
        options.bounces.bounceHistory(recipient),
        options.bounces.getSuppression(recipient),
      ])
      const hard = history.filter((b) => b.kind === 'hard').length
      return {
        recipient,
        hard,
        soft: history.length - hard,
        total: history.length,
        lastAt: history.at(-1)?.at ?? null,
        suppressed: suppression !== null,
      }
    },
  )

  app.post(
    '/v1/bounces/inbound',
    {
      config: { scope: 'admin' },
      bodyLimit: MAX_INBOUND_BYTES,
      schema: {
        tags,
        summary:
          'Record a bounce (a DSN or a mailer-daemon report) or a complaint (an ARF feedback report)',
        description:
          'The body is the raw message (Content-Type: message/rfc822). A bounce records one bounce per failed ' +
          'recipient, tied to the original message when its X-Outbound-Message-Id or Message-ID is found. ' +
          'A feedback report (RFC 5965 multipart/report; report-type=feedback-report, with the original as ' +
          'message/rfc822 or text/rfc822-headers, or a Microsoft JMRP report) records a complaint: the recipient ' +
          'is suppressed for every mail (reason complaint) and email.complained is emitted; the same report ' +
          'again (same original, same recipient) answers the first complaint and changes nothing. ' +
          'Errors: 422 NOT_A_BOUNCE (neither a bounce nor a complaint; kept for inspection), ' +
          '422 COMPLAINT_WITHOUT_RECIPIENT (a report that names no recipient, about mail that is not ours or ' +
          'had several recipients), 415 UNSUPPORTED_MEDIA_TYPE, 413 PAYLOAD_TOO_LARGE (over 10 MiB).',
        response: {
          202: Type.Object(
            { bounces: Type.Array(BounceSchema), complaints: Type.Array(ComplaintSchema) },
            {
              examples: [
                {
                  bounces: [],
                  complaints: [
                    {
                      id: 'cmp_01JDZ8Q6W3V7K2T9M4N5P6R7S8',
                      messageId: 'msg_01JDZ7X1Y2Z3A4B5C6D7E8F9G0',
                      recipient: 'reader@yahoo.example',
                      feedbackType: 'abuse',
                      serverId: 'srv_01JDZ0000000000000000000',
                      at: '2026-12-01T09:30:00.000Z',
                    },
                  ],
                },
              ],
            },
          ),
          ...errorResponses(400, 401, 403, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      // message/rfc822 and octet-stream arrive as bytes, text/plain as a string; JSON is not a message.
      const body: unknown = request.body
      if (!Buffer.isBuffer(body) && typeof body !== 'string') {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the raw message as message/rfc822')
      }
      const raw = typeof body === 'string' ? Buffer.from(body) : body
      const bounces = await recordInboundBounce(options, raw)
      // parseBounce refuses feedback reports, so a report is read as a complaint here.
      const complaint = bounces === null ? await recordInboundComplaint(options, raw) : null
      if (complaint?.kind === 'no-recipient') {
        // Kept like any refused report, so an operator can see why a provider's reports fail.
        await options.bounces.keepRejectedInbound(
          raw.subarray(0, KEPT_BYTES).toString('utf8'),
          options.now(),
        )
        throw new AppError(
          'COMPLAINT_WITHOUT_RECIPIENT',
          'the feedback report names no recipient (Original-Rcpt-To or the original To), and its original is not a message of this service with a single recipient',
        )
      }
      if (complaint?.kind === 'recorded') {
        for (const warning of complaint.warnings)
          request.log.warn(warning, 'complaint rate crossed a threshold')
        return reply.status(202).send({ bounces: [], complaints: [complaint.complaint] })
      }
      if (bounces === null) {
        await options.bounces.keepRejectedInbound(
          raw.subarray(0, KEPT_BYTES).toString('utf8'),
          options.now(),
        )
        throw new AppError(
          'NOT_A_BOUNCE',
          'this message is neither a delivery status notification nor a mailer-daemon report',
        )
      }
      return reply.status(202).send({ bounces, complaints: [] })
    },
  )
}
