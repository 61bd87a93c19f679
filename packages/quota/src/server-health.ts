/** A server's health as every worker sees it (CONTRACT.md: `state` on every server view). */
export type ServerState = {
  status: 'ok' | 'throttled' | 'down'
  since: string
  until: string | null
  reason: string | null
  consecutiveFailures: number
  /** The length of the last throttled or down wait, which the next one doubles. */
  backoffMs: number
  /** When the server last asked to slow down (the throttle back-off resets 10 min after). */
  lastThrottledAt: string | null
}

/** What one attempt told about the server. */
export type ServerSignal =
  | { kind: 'success' }
  /** "Slow down": 421, or 4xx with 4.7.x / 4.3.2, or a text about rate, throttling, too many. */
  | { kind: 'slow-down'; reason: string }
  /** Refused or timed-out connection, TLS failure, 421/554 greeting, 535 AUTH failure. */
  | { kind: 'unreachable'; reason: string }

export const THROTTLE_FIRST_MS = 30_000
export const THROTTLE_MAX_MS = 15 * 60_000
export const THROTTLE_RESET_MS = 10 * 60_000
export const DOWN_FIRST_MS = 30_000
export const DOWN_MAX_MS = 10 * 60_000
export const DOWN_AFTER_FAILURES = 3

/** A healthy server's state. */
export function okState(at: Date): ServerState {
  return {
    status: 'ok',
    since: at.toISOString(),
    until: null,
    reason: null,
    consecutiveFailures: 0,
    backoffMs: 0,
    lastThrottledAt: null,
  }
}

/**
 * The state after an attempt's signal (DOMAIN.md §8): a slow-down throttles for 30 s, doubling on
 * each repeat up to 15 min and back to 30 s after 10 min without one; three unreachable attempts in
 * a row put it down for 30 s, doubling up to 10 min while probes fail; a success makes it ok. A
 * signal that arrives while the server's wait is on (an attempt begun before) changes nothing.
 */
export function nextServerState(state: ServerState, signal: ServerSignal, now: Date): ServerState {
  const at = now.toISOString()
  switch (signal.kind) {
    case 'success':
      return state.status === 'ok' && state.consecutiveFailures === 0
        ? state
        : { ...okState(now), lastThrottledAt: state.lastThrottledAt }
    case 'slow-down': {
      // Replies to transactions begun before the throttle are the same slow-down, not a repeat.
      if (
        state.status === 'throttled' &&
        state.until !== null &&
        Date.parse(state.until) > now.getTime()
      )
        return state
      const recent =
        state.lastThrottledAt !== null &&
        now.getTime() - Date.parse(state.lastThrottledAt) < THROTTLE_RESET_MS
      const backoffMs = recent
        ? Math.min(THROTTLE_MAX_MS, Math.max(THROTTLE_FIRST_MS, state.backoffMs * 2))
        : THROTTLE_FIRST_MS
      return {
        status: 'throttled',
        since: state.status === 'throttled' ? state.since : at,
        until: new Date(now.getTime() + backoffMs).toISOString(),
        reason: signal.reason,
        consecutiveFailures: 0,
        backoffMs,
        lastThrottledAt: at,
      }
    }
    case 'unreachable': {
      // While a down server waits, failures of attempts begun before are no failed probe.
      if (
        state.status === 'down' &&
        state.until !== null &&
        Date.parse(state.until) > now.getTime()
      )
        return state
      const failures = state.consecutiveFailures + 1
      if (state.status !== 'down' && failures < DOWN_AFTER_FAILURES)
        return { ...state, consecutiveFailures: failures, reason: signal.reason }
      // Down: the first time for 30 s; a failed probe doubles the wait, up to 10 min.
      const backoffMs =
        state.status === 'down' ? Math.min(DOWN_MAX_MS, state.backoffMs * 2) : DOWN_FIRST_MS
      return {
        status: 'down',
        since: state.status === 'down' ? state.since : at,
        until: new Date(now.getTime() + backoffMs).toISOString(),
        reason: signal.reason,
        consecutiveFailures: failures,
        backoffMs,
        lastThrottledAt: state.lastThrottledAt,
      }
    }
  }
}

/**
 * Whether mail may go to the server now: an ok server always; a throttled one once its wait is
 * over; a down one only as the probe once its wait is over (the caller lets one message probe).
 */
export function serverAvailability(
  state: ServerState,
  now: Date,
): { kind: 'open' } | { kind: 'probe' } | { kind: 'wait'; until: Date } {
  if (state.status === 'ok') return { kind: 'open' }
  const until = state.until === null ? now : new Date(state.until)
  if (until > now) return { kind: 'wait', until }
  return state.status === 'down' ? { kind: 'probe' } : { kind: 'open' }
}
