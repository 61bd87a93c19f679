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
