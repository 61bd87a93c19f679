export {
  /** The root pino logger: JSON, or pretty when stdout is a terminal; credentials redacted. */
  createLogger,
} from './create-logger.js'
export {
  /** A Redis connection for a role (producer fails fast, worker waits out outages). */
  createRedis,
  type RedisClient,
  type RedisRole,
  /** Resolves once a connection is ready; rejects after the timeout with the last error. */
  waitForRedis,
} from './create-redis.js'
export {
  /** Graceful shutdown on SIGTERM/SIGINT and on crashes, bounded by a timeout. */
  handleSignals,
} from './handle-signals.js'
export {
  /** A new `<prefix>_<ULID>` id, from pooled randomness. */
  newId,
} from './new-id.js'
