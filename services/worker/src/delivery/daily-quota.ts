import { createHash } from 'node:crypto'
import type { Stream } from '@outbound/jobs'
import { crossedWarningLevel, quotaWindow, type QuotaWindow, streamCap } from '@outbound/quota'
import type { QuotaStore } from '@outbound/store'

export type QuotaDecision =
  | { kind: 'unlimited' }
  | {
      kind: 'reserved'
      day: string
      units: number
      usedAfter: number
      limit: number
      crossedWarning: boolean
    }
  | { kind: 'over'; resetsAt: Date; deferUntil: Date; used: number; limit: number; cap: number }
  /** More recipients than the stream may ever send through this server in a day. */
  | { kind: 'too-large'; units: number; cap: number }

// Counters outlive their window by two days, so that late releases still find them.
const COUNTER_MARGIN_SECONDS = 2 * 86_400
const MAX_JITTER_MS = 30_000

/**
 * The same few seconds after a reset for every message of a server (so deferred mail keeps its
 * order), different per server (so servers do not all wake at once).
 */
export function resetJitterMs(serverId: string): number {
  return createHash('sha1').update(serverId).digest().readUInt32BE(0) % MAX_JITTER_MS
}

/** The quota window of an instant, computed once per window and time zone. */
export function createWindowCache(): (at: Date, timeZone: string) => QuotaWindow {
  const windows = new Map<string, QuotaWindow>()
  return (at, timeZone) => {
    const known = windows.get(timeZone)
    if (known !== undefined && at >= known.start && at < known.resetsAt) return known
    const window = quotaWindow(at, timeZone)
    windows.set(timeZone, window)
    return window
  }
}

export type QuotaRequest = {
  serverId: string
  /** The server's daily limit; null: unlimited. */
  limit: number | null
  stream: Stream
  reservePercent: number
  timeZone: string
  units: number
  now: Date
  /** How the message is named in the server's waiting set when it must wait (`stream:id`). */
  waitingMember: string
}

/** Reserves one unit per recipient of today's quota in one atomic step, or says when to retry. */
export async function reserveDailyQuota(
  quota: QuotaStore,
  windowOf: (at: Date, timeZone: string) => QuotaWindow,
  request: QuotaRequest,
): Promise<QuotaDecision> {
  const { serverId, limit, stream, units, now } = request
  if (limit === null) return { kind: 'unlimited' }
  const cap = streamCap(limit, stream, request.reservePercent)
  if (units > cap) return { kind: 'too-large', units, cap }
  const window = windowOf(now, request.timeZone)
  const ttlSeconds =
    Math.ceil((window.resetsAt.getTime() - now.getTime()) / 1000) + COUNTER_MARGIN_SECONDS
  const deferUntil = new Date(window.resetsAt.getTime() + resetJitterMs(serverId))
  const reservation = await quota.reserveQuota(serverId, window.day, units, cap, ttlSeconds, {
    member: request.waitingMember,
    retryAt: deferUntil,
  })
  if (!reservation.granted) {
    return {
      kind: 'over',
      resetsAt: window.resetsAt,
      deferUntil,
      used: reservation.usedBefore,
      limit,
      cap,
    }
  }
  return {
    kind: 'reserved',
    day: window.day,
    units,
    usedAfter: reservation.usedAfter,
    limit,
    crossedWarning: crossedWarningLevel(limit, reservation.usedBefore, reservation.usedAfter),
  }
}
