import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { StatsStore } from '@outbound/store'
import { complaintRates, type ReputationDeps } from '../../check-reputation.js'
import { AppError } from '../../errors.js'
import { errorResponses } from './config-schemas.js'

export type StatsRoutesOptions = ReputationDeps & { stats: StatsStore }

/**
 * The longest range, in buckets: a month of hours, 400 days (the retention). An unaligned range
 * answers one bucket more (its partial first and last).
 */
export const MAX_BUCKETS = { hour: 744, day: 400 } as const
const HOUR_MS = 3_600_000
const INTERVAL_MS = { hour: HOUR_MS, day: 24 * HOUR_MS } as const

const Count = (description: string) => Type.Integer({ minimum: 0, description })

const StatsBucketSchema = Type.Object({
  start: Type.String({ description: 'the bucket start (UTC), ISO-8601' }),
  accepted: Count('messages accepted by POST /v1/emails (and batch)'),
  sent: Count('recipients the server accepted'),
  deferred: Count('recipients temporarily refused (each attempt that deferred them counts)'),
  bounced: Type.Object({
    hard: Count('recipients bounced for good, the address is bad (SMTP refusal or late DSN)'),
    soft: Count('recipients bounced for another reason (mailbox full, policy, a delay DSN …)'),
  }),
  failed: Count('recipients whose retries ran out, or that could not be sent'),
  suppressed: Count('recipients not mailed because they are on the suppression list'),
  canceled: Count('recipients of messages canceled before the hand-over'),
  complained: Count('complaints received from feedback loops'),
  unsubscribed: Count('recipients who unsubscribed'),
})

const ComplaintRateSchema = Type.Object({
  serverId: Type.String(),
  complained: Count('complaints about its mail in the last 24 hourly buckets'),
  delivered: Count('recipients it delivered (sent) in the last 24 hourly buckets'),
  rate: Type.Number({ description: 'complained ÷ delivered (0 when nothing was delivered)' }),
})

const StatsQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'default: 24 buckets before until (hour), 30 (day)',
      }),
    ),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'default: now' })),
    interval: Type.Optional(
      Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'day' }),
    ),
    stream: Type.Optional(Type.Union([Type.Literal('transactional'), Type.Literal('mass')])),
    serverId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
)

export const statsRoutes: FastifyPluginAsyncTypebox<StatsRoutesOptions> = async (app, options) => {
  app.get(
    '/v1/stats',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['delivery facts'],
        summary: 'Delivery counters by hour or day, and each server’s 24 h complaint rate',
        description:
          'Counted when they happen, in the same Redis step as the record they count, and kept 400 days. ' +
          'Recipients, except `accepted` (messages). Buckets are UTC hours or days; every bucket from the one ' +
          'holding `since` to the one holding the instant before `until` is listed, zeros included. ' +
          '`stream` and `serverId` filter (a message counts under the server it left through; `accepted` and ' +
          'recipients suppressed at acceptance count under no server unless the request forced `serverId`). ' +
          '`complaintRate24h` is per server over the last 24 hourly buckets, whatever the range. ' +
          'Errors: 400 STATS_RANGE_TOO_LARGE (a range longer than 744 hours with interval=hour, 400 days with interval=day), ' +
          '400 VALIDATION_FAILED (a malformed field, or until not after since).',
        querystring: StatsQuery,
        response: {
          200: Type.Object(
            {
              interval: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
              since: Type.String(),
              until: Type.String(),
              buckets: Type.Array(StatsBucketSchema),
              complaintRate24h: Type.Array(ComplaintRateSchema),
            },
            {
              examples: [
                {
                  interval: 'day',
                  since: '2026-11-30T00:00:00.000Z',
                  until: '2026-12-01T12:00:00.000Z',
                  buckets: [
                    {
                      start: '2026-11-30T00:00:00.000Z',
                      accepted: 1200,
                      sent: 1180,
                      deferred: 14,
                      bounced: { hard: 9, soft: 3 },
                      failed: 1,
                      suppressed: 7,
                      canceled: 0,
                      complained: 1,
                      unsubscribed: 4,
                    },
                  ],
                  complaintRate24h: [
                    {
                      serverId: 'srv_01JDZ0000000000000000000',
                      complained: 1,
                      delivered: 1180,
                      rate: 0.000847,
                    },
                  ],
                },
              ],
            },
          ),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const interval = request.query.interval ?? 'day'
      const until =
        request.query.until === undefined ? options.now() : new Date(request.query.until)
      const since =
        request.query.since === undefined
          ? new Date(until.getTime() - (interval === 'hour' ? 24 : 30) * INTERVAL_MS[interval])
          : new Date(request.query.since)
      if (until <= since)
        throw new AppError('VALIDATION_FAILED', 'until must be after since', { field: 'until' })
      // Bounded by length, so an unaligned range of the full length (its partial first and last
      // buckets make one more) is still answered.
      const buckets = Math.ceil((until.getTime() - since.getTime()) / INTERVAL_MS[interval])
      if (buckets > MAX_BUCKETS[interval])
        throw new AppError(
          'STATS_RANGE_TOO_LARGE',
          `since to until spans ${buckets} ${interval}s; at most ${MAX_BUCKETS[interval]} are allowed with interval=${interval}`,
          { field: 'since', maxBuckets: MAX_BUCKETS[interval] },
        )
      const { stream, serverId } = request.query
      const [stats, rates] = await Promise.all([
        options.stats.readStats({
          since,
          until,
          interval,
          ...(stream === undefined ? {} : { stream }),
          ...(serverId === undefined ? {} : { serverId }),
        }),
        complaintRates(options),
      ])
      return {
        interval,
        since: since.toISOString(),
        until: until.toISOString(),
        buckets: stats,
        complaintRate24h: rates
          .filter((rate) => serverId === undefined || rate.serverId === serverId)
          .map(({ serverId: id, complained, delivered, rate }) => ({
            serverId: id,
            complained,
            delivered,
            rate,
          })),
      }
    },
  )
}
