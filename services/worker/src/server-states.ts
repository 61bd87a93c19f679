import type { Logger } from 'pino'
import type { WebhookEvent } from '@outbound/jobs'
import { nextServerState, okState, type ServerSignal, type ServerState } from '@outbound/quota'
import type { ServerStateStore } from '@outbound/store'

export type ServerStates = {
  /** The state this process last read or wrote (null: never recorded, i.e. ok). */
  current(serverId: string): ServerState | null
  /** Applies what an attempt told about a server: atomically in Redis, then here. */
  report(server: { id: string; name: string }, signal: ServerSignal): Promise<void>
  /** Reads every server's state again now. */
  refresh(): Promise<void>
  close(): void
}

/** What the worker does when a server's status changes: log, count, emit `server.state_changed`. */
export type StateChangeListener = (change: {
  server: { id: string; name: string }
  before: ServerState | null
  after: ServerState
}) => Promise<void>

/**
 * Every server's health as all worker processes share it (held in Redis), cached in this process
 * and read again every `pollMs`; a transition this process causes is seen here at once. A healthy
 * server costs no Redis call per message: only failures and transitions write.
 */
export function createServerStates(options: {
  store: ServerStateStore
  /** The ids of the configured servers. */
  serverIds: () => readonly string[]
  onChange: StateChangeListener
  /** Called with every state read (for the state gauges). */
  onRefresh?: (states: ReadonlyMap<string, ServerState>) => void
  now: () => Date
  log: Logger
  pollMs?: number
}): ServerStates {
  let states = new Map<string, ServerState>()
  const refresh = async () => {
    states = await options.store.readServerStates(options.serverIds())
    options.onRefresh?.(states)
  }
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => options.log.warn({ err }, 'reading server states failed'))
  }, options.pollMs ?? 1000)
  timer.unref()

  return {
    current: (serverId) => states.get(serverId) ?? null,
    refresh,
    async report(server, signal) {
      const cached = states.get(server.id) ?? null
      // The common case: a healthy server answered. Nothing to write.
      if (
        signal.kind === 'success' &&
        (cached === null || nextServerState(cached, signal, options.now()) === cached)
      )
        return
      const { before, after } = await options.store.updateServerState(server.id, (current) =>
        nextServerState(current ?? okState(options.now()), signal, options.now()),
      )
      states.set(server.id, after)
      if ((before?.status ?? 'ok') !== after.status)
        await options.onChange({ server, before, after })
    },
    close: () => clearInterval(timer),
  }
}

/** The `server.state_changed` event of a transition. */
export function stateChangedEvent(
  id: string,
  at: Date,
  change: Parameters<StateChangeListener>[0],
): WebhookEvent {
  const { server, before, after } = change
  return {
    id,
    type: 'server.state_changed',
    timestamp: at.toISOString(),
    data: {
      serverId: server.id,
      serverName: server.name,
      previous: before?.status ?? 'ok',
      status: after.status,
      since: after.since,
      until: after.until,
      reason: after.reason,
      consecutiveFailures: after.consecutiveFailures,
    },
  }
}
