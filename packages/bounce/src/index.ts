export {
  BOUNCE_REASONS,
  type BounceReason,
  type Classification,
  /** Reason, permanence and kind of a failure, and which rule of RULES said so. */
  classifyFailure,
  /** The enhanced status code (5.1.1) in a text, or null. */
  enhancedCodeOf,
  type Failure,
  /** A "try again in N minutes" in a reply, in seconds; null when none. */
  retryHintSeconds,
  /** The classification rules, in order, each with the reply it was written for. */
  RULES,
} from './classify.js'
export {
  /** The record of a failure and the suppression it causes, if any. */
  bounceDecision,
  type BounceDecision,
  type BounceDecisionInput,
} from './bounce-decision.js'
export {
  type BouncedRecipient,
  /** A DSN (RFC 3464) or a mailer-daemon's text bounce; null when it is not a bounce. */
  parseBounce,
  type ParsedBounce,
} from './parse-bounce.js'
export {
  type ParsedComplaint,
  /** An RFC 5965 feedback report or a Microsoft JMRP complaint; null when it is not a complaint. */
  parseComplaint,
} from './parse-complaint.js'
export {
  type BounceHistoryEntry,
  /** Whether an address's bounce history puts it on the suppression list. */
  shouldSuppress,
  type SuppressionVerdict,
} from './suppression-rule.js'
export {
  type AttemptOutcome,
  /** Whether a temporary reply asks the sender to slow down (421, 4.7.x, 4.3.2, rate words). */
  isSlowDown,
  /** The wait before the next attempt (the server's hint, else the schedule); null once used up. */
  nextRetryDelayMs,
  type RecipientStatus,
  /** Whether a failed transaction refuses the message itself (5xx to MAIL, RCPT or DATA). */
  refusesMessage,
  /** accepted, permanent or temporary: what an SMTP reply code means. */
  replyClass,
  type ReplyClass,
  /** Every recipient's fate after an attempt, the message's status, and what to bounce. */
  settleAttempt,
  type SettledRecipient,
  type Settlement,
  /** What an attempt tells about its server: success, slow-down, unreachable, or nothing. */
  serverSignal,
  type ServerSignalKind,
} from './settle-attempt.js'
export {
  /** complaints ÷ delivered over a window; 0 when nothing was delivered. */
  complaintRate,
  /** 0, 1 (from 0.1 %) or 2 (from 0.3 %): where a complaint rate stands against the thresholds. */
  complaintRateLevel,
  type ComplaintRateLevel,
  COMPLAINT_RATE_THRESHOLDS,
} from './complaint-rate.js'
export {
  SIMULATOR_DOMAIN,
  type SimulatedOutcome,
  /** What a sandbox key's mail to a `simulator.test` address acts out; null for other addresses. */
  simulatedOutcome,
  /** The reply a simulator recipient gets on an attempt; null when it is accepted. */
  simulatedRefusal,
} from './simulator.js'
