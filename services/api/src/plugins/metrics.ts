import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Queue } from 'bullmq'
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { ConfigCache, QuotaStore } from '@outbound/store'
import { checkReputation, type ReputationDeps } from '../check-reputation.js'
import { quotaReport } from '../quota-report.js'

export type MetricsOptions = {
  /** The stats counters the complaint rates are read from at each scrape. */
  reputation: ReputationDeps
  configCache: ConfigCache
  quota: QuotaStore
  queues: readonly Queue[]
  now: () => Date
}

const QUEUE_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const

/** GET /metrics in Prometheus format; quota gauges are read from Redis at each scrape. */
export const metrics = fp(
  (app: FastifyInstance, options: MetricsOptions) => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry, prefix: 'outbound_api_' })
    const jobs = new Gauge({
      name: 'outbound_queue_jobs',
      help: 'Jobs in each queue (stream) by state',
      labelNames: ['queue', 'state'],
      registers: [registry],
    })
    const oldest = new Gauge({
      name: 'outbound_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting in each queue (0 when none waits)',
      labelNames: ['queue'],
      registers: [registry],
    })
    const labelNames = ['server'] as const
    const limit = new Gauge({
      name: 'outbound_quota_limit',
      help: 'Daily limit of a server (absent: unlimited)',
      labelNames,
      registers: [registry],
    })
    const used = new Gauge({
      name: 'outbound_quota_used',
      help: 'Units (recipients) handed over in the current quota window',
      labelNames,
      registers: [registry],
    })
    const remaining = new Gauge({
      name: 'outbound_quota_remaining',
      help: 'Units left in the current quota window',
      labelNames,
      registers: [registry],
    })
    const ratio = new Gauge({
      name: 'outbound_quota_used_ratio',
      help: 'Share of the daily limit used (alert at 0.9)',
      labelNames,
      registers: [registry],
    })
    const resets = new Gauge({
      name: 'outbound_quota_resets_at_seconds',
      help: 'When the quota window resets (Unix time)',
      labelNames,
      registers: [registry],
    })

    const complaintRate = new Gauge({
      name: 'outbound_complaint_rate_24h',
      help: 'Complaints ÷ recipients delivered by a server over the last 24 hourly buckets (warn at 0.001, 0.003)',
      labelNames,
      registers: [registry],
    })

    app.get(
      '/metrics',
      { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } },
      async (request, reply) => {
        for (const gauge of [limit, used, remaining, ratio, resets, complaintRate]) gauge.reset()
        // The check also re-arms warnings whose rate fell, and warns of a rate that rose because
        // deliveries left the 24 h window (no complaint arrived to check it).
        const reputation = await checkReputation(options.reputation)
        for (const server of reputation.rates)
          complaintRate.set({ server: server.serverId }, server.rate)
        for (const warning of reputation.warnings)
          request.log.warn(warning, 'complaint rate crossed a threshold')
        const now = options.now().getTime()
        for (const queue of options.queues) {
          const counts = await queue.getJobCounts(...QUEUE_STATES)
          for (const state of QUEUE_STATES)
            jobs.set({ queue: queue.name, state }, counts[state] ?? 0)
          const [first] = await queue.getJobs(['wait'], 0, 0, true)
          oldest.set(
            { queue: queue.name },
            first === undefined ? 0 : Math.max(0, (now - first.timestamp) / 1000),
          )
        }
        for (const server of await quotaReport(
          options.configCache.current(),
          options.quota,
          options.now(),
        )) {
          const labels = { server: server.serverId }
          used.set(labels, server.used)
          resets.set(labels, Date.parse(server.resetsAt) / 1000)
          if (server.limit !== null) {
            limit.set(labels, server.limit)
            remaining.set(labels, server.remaining ?? 0)
            ratio.set(labels, server.limit === 0 ? 1 : server.used / server.limit)
          }
        }
        return await reply.type(registry.contentType).send(await registry.metrics())
      },
    )
  },
  { name: 'metrics' },
)
