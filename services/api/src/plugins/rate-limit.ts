import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { AppError } from '../errors.js'

export type RateLimitOptions = {
  /** Counters live here, so the limit holds across every API instance. */
  redis: Redis | Cluster
  /** Key prefix of the counters (`outbound` in production, a test prefix in tests). */
  prefix: string
}

/**
 * Per-key rate limits for the routes that ask for one (`config.rateLimit`), counted in Redis,
 * with the IETF draft's RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers and
 * Retry-After on 429. The key is the API key's name (the client address when auth is off).
 */
export async function rateLimits(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    redis: options.redis,
    nameSpace: `${options.prefix}:ratelimit:`,
    // A hash tag per key: each counter is one Cluster slot of its own.
    keyGenerator: (request) =>
      `{${request.principal === '' || request.principal === 'local' ? request.ip : request.principal}}`,
    enableDraftSpec: true,
    // Redis unreachable: let the request through, and let the enqueue fail with 503 instead.
    skipOnError: true,
    errorResponseBuilder: (request, context) =>
      new AppError(
        'RATE_LIMITED',
        // Keyless routes (the unsubscribe pages) are counted per client address.
        request.principal === ''
          ? `more than ${context.max} requests per ${context.after} from this address`
          : `more than ${context.max} send requests per ${context.after} for this API key`,
        {
          retryAfterSeconds: Math.ceil(context.ttl / 1000),
        },
      ),
  })
}
