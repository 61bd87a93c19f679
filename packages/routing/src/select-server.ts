import {
  addressKey,
  type AddressKey,
  filterParts,
  type FilterPart,
  hasAddressPart,
  hasDomainPart,
  matchesParts,
} from './from-filter.js'

/** What the waterfall needs of an outgoing server. */
export type ServerCandidate = {
  id: string
  name: string
  sequence: number
  fromFilter: string | null
  active: boolean
  /** Creation time (ISO-8601, so it sorts as text): the last tie-breaker. */
  createdAt: string
}

/** Servers with their filters parsed once (per configuration snapshot), in waterfall order. */
export type PreparedServers<S extends ServerCandidate = ServerCandidate> = ReadonlyArray<{
  server: S
  parts: readonly FilterPart[]
}>

export type RoutingStep =
  | 'forced-server'
  | 'mass-dedicated-server'
  | 'sender-address'
  | 'sender-domain'
  | 'notification-address'
  | 'notification-domain'
  | 'server-without-filter'
  | 'first-server'
  | 'default-server'

export type Selection<S extends ServerCandidate = ServerCandidate> = {
  /** null: the built-in default server (SMTP_URL or the file outbox). */
  server: S | null
  /** The address the message is sent as (DOMAIN.md §4). */
  sendingAddress: string
  step: RoutingStep
  reason: string
}

export type SelectServerFailure = 'UNKNOWN_SERVER' | 'SERVER_INACTIVE'

export type SelectServerInput<S extends ServerCandidate> = {
  /** The sender used for selection (after forced or full-address From rules), a bare address. */
  sender: string
  /** N, the notification address, when there is an alias domain. */
  notification: string | null
  /** Every configured server (a forced server may be one the waterfall skips). */
  servers: readonly S[]
  /** The active servers, prepared once per configuration snapshot. */
  prepared: PreparedServers<S>
  /** The request's serverId. */
  serverId: string | null
  /** The mass stream's dedicated server (Odoo's "Dedicated Server"), for mass messages only. */
  massDedicatedServerId: string | null
  /** The built-in default server's filter (Odoo's mail.default.from_filter). */
  defaultFromFilter: string | null
}

const byWaterfallOrder = (a: ServerCandidate, b: ServerCandidate) =>
  a.sequence - b.sequence ||
  (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
  (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)

/** Active servers with parsed filters, ordered by sequence, then name, then creation time. */
export function prepareServers<S extends ServerCandidate>(
  servers: readonly S[],
): PreparedServers<S> {
  return servers
    .filter((server) => server.active)
    .sort(byWaterfallOrder)
    .map((server) => ({ server, parts: filterParts(server.fromFilter) }))
}

function firstMatch<S extends ServerCandidate>(
  servers: PreparedServers<S>,
  key: AddressKey | null,
): { server: S; kind: 'address' | 'domain' } | undefined {
  if (key === null) return undefined
  // An address match beats a domain match whatever their sequences.
  const byAddress = servers.find((s) => hasAddressPart(s.parts, key))
  if (byAddress !== undefined) return { server: byAddress.server, kind: 'address' }
  const byDomain = servers.find((s) => hasDomainPart(s.parts, key))
  return byDomain === undefined ? undefined : { server: byDomain.server, kind: 'domain' }
}

/**
 * Odoo's choice of outgoing server (DOMAIN.md §4): a forced server, else the five-step waterfall.
 * Fails with UNKNOWN_SERVER or SERVER_INACTIVE for a request's serverId that cannot be used.
 */
export function selectServer<S extends ServerCandidate>(
  input: SelectServerInput<S>,
): { ok: true; selection: Selection<S> } | { ok: false; code: SelectServerFailure } {
  const { sender, notification, prepared: servers } = input
  const ok = (selection: Selection<S>) => ({ ok: true as const, selection })

  if (input.serverId !== null) {
    const forced = input.servers.find((server) => server.id === input.serverId)
    if (forced === undefined) return { ok: false, code: 'UNKNOWN_SERVER' }
    if (!forced.active) return { ok: false, code: 'SERVER_INACTIVE' }
    return ok({
      server: forced,
      sendingAddress: sender,
      step: 'forced-server',
      reason: `the request names server ${forced.name}`,
    })
  }
  let dedicatedNote = ''
  if (input.massDedicatedServerId !== null) {
    const dedicated = input.servers.find((server) => server.id === input.massDedicatedServerId)
    if (dedicated?.active === true) {
      return ok({
        server: dedicated,
        sendingAddress: sender,
        step: 'mass-dedicated-server',
        reason: `mass mail goes through the dedicated server ${dedicated.name}`,
      })
    }
    dedicatedNote = ' (the dedicated mass server is missing or inactive)'
  }

  const senderKey = addressKey(sender)
  const bySender = firstMatch(servers, senderKey)
  if (bySender !== undefined) {
    const what =
      bySender.kind === 'address'
        ? `the address ${sender}`
        : `the domain ${senderKey?.domain ?? ''}`
    return ok({
      server: bySender.server,
      sendingAddress: sender,
      step: bySender.kind === 'address' ? 'sender-address' : 'sender-domain',
      reason: `the from filter of ${bySender.server.name} lists ${what} of the sender${dedicatedNote}`,
    })
  }
  const notificationKey = notification === null ? null : addressKey(notification)
  const byNotification = firstMatch(servers, notificationKey)
  if (notification !== null && byNotification !== undefined) {
    const what =
      byNotification.kind === 'address'
        ? `the notification address ${notification}`
        : `the notification domain ${notificationKey?.domain ?? ''}`
    return ok({
      server: byNotification.server,
      sendingAddress: notification,
      step: byNotification.kind === 'address' ? 'notification-address' : 'notification-domain',
      reason: `no server's filter matches the sender; the from filter of ${byNotification.server.name} lists ${what}${dedicatedNote}`,
    })
  }
  const fallbackAddress = notification ?? sender
  const withoutFilter = servers.find((s) => s.parts.length === 0)
  if (withoutFilter !== undefined) {
    return ok({
      server: withoutFilter.server,
      sendingAddress: fallbackAddress,
      step: 'server-without-filter',
      reason: `no filter matches the sender or the notification address; ${withoutFilter.server.name} has no from filter${dedicatedNote}`,
    })
  }
  const first = servers[0]
  if (first !== undefined) {
    return ok({
      server: first.server,
      sendingAddress: fallbackAddress,
      step: 'first-server',
      reason: `no from filter matches; ${first.server.name} is the first server${dedicatedNote}`,
    })
  }
  const defaultParts = filterParts(input.defaultFromFilter)
  const sendingAddress = matchesParts(defaultParts, senderKey)
    ? sender
    : notification !== null && matchesParts(defaultParts, notificationKey)
      ? notification
      : fallbackAddress
  return ok({
    server: null,
    sendingAddress,
    step: 'default-server',
    reason: `no outgoing servers are configured: the built-in default server${dedicatedNote}`,
  })
}
