export {
  /** The local date (YYYY-MM-DD) of an instant in a time zone. */
  localDay,
  type QuotaWindow,
  /** The quota window (calendar day in a time zone) an instant falls in. */
  quotaWindow,
} from './quota-window.js'
export {
  /** True when a reservation took the count across 90 % of the limit. */
  crossedWarningLevel,
  type QuotaView,
  /** limit, used, remaining and the transactional reserve of a server. */
  quotaView,
  /** The part of a daily limit a stream may use (mass leaves the reserve). */
  streamCap,
} from './quota-limits.js'
export {
  /** `"40/s"`, `"600/min"`, `"10000/h"` as a rate; null when it is not one. */
  parseRateLimit,
  type RateLimit,
  /** The emission interval and burst tolerance of a rate (GCRA). */
  rateParameters,
} from './rate-limit.js'
export {
  /** The daily limit in force: a warm-up schedule's day, else dailyLimit. */
  limitInForce,
} from './warm-up.js'
export {
  /** The state after an attempt's signal (slow down, unreachable, success). */
  nextServerState,
  /** A healthy server's state. */
  okState,
  /** Whether mail may go to a server now, as the probe, or must wait. */
  serverAvailability,
  type ServerSignal,
  type ServerState,
} from './server-health.js'
