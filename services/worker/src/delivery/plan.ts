import { parseMailbox } from '@outbound/address'
import { planDelivery } from '@outbound/rewrite'
import type { RoutingContext } from '../routing-context.js'
import { type Attempt, DEFAULT_SERVER_ID, type Ended, type Sending } from './types.js'

function ours(response: string): Ended {
  return {
    kind: 'ended',
    outcome: { kind: 'failed', cause: 'ours', code: null, response },
    afterCommit: false,
  }
}

/** Servers the waterfall runs without (DOMAIN.md §8 failover): each with why. */
export type Excluded = ReadonlyMap<string, string>

/**
 * Stage 2: which server sends the message and what goes on the wire (the waterfall and the rewrite
 * rules, on the configuration this process holds), as if the `excluded` servers (down, failover
 * allowed) did not exist. Fails for a sender that no longer parses, a forced server that is gone
 * or inactive, or a message past maxQueueHours; waits when every configured server is excluded.
 */
export function plan(
  { message }: Attempt,
  context: RoutingContext,
  excluded: Excluded,
  now: Date,
): { kind: 'planned'; sending: Sending } | { kind: 'no-server' } | Ended {
  const { request } = message
  const { snapshot } = context
  const maxQueueHours = snapshot.settings.maxQueueHours ?? 72
  // A retry on request (POST /v1/emails/:id/retry) starts the queue time again.
  const queuedSince = message.retriedAt ?? message.createdAt
  if (now.getTime() - queuedSince.getTime() > maxQueueHours * 3_600_000) {
    return {
      kind: 'ended',
      outcome: {
        kind: 'failed',
        cause: 'expired',
        code: null,
        response: `expired: not handed over within ${maxQueueHours} hours (maxQueueHours)`,
      },
      afterCommit: false,
    }
  }
  const sender = parseMailbox(request.from)
  if (sender === null) return ours('the stored sender does not parse')
  const prepared =
    excluded.size === 0
      ? context.prepared
      : context.prepared.filter(({ server }) => !excluded.has(server.id))
  // No server left: the mail waits rather than spill onto the built-in default server.
  if (context.prepared.length > 0 && prepared.length === 0 && request.serverId === null)
    return { kind: 'no-server' }
  const company = snapshot.companies.find((c) => c.id === request.companyId) ?? null
  const planned = planDelivery({
    sender,
    replyTo: request.replyTo,
    reference: request.reference,
    stream: message.stream,
    serverId: request.serverId,
    // A company deleted since acceptance: its mail uses the lowest-sequence alias domain.
    company,
    aliasDomains: snapshot.aliasDomains,
    settings: snapshot.settings,
    servers: snapshot.servers,
    prepared,
  })
  if (!planned.ok) {
    return ours(
      planned.code === 'UNKNOWN_SERVER'
        ? `the requested server ${request.serverId ?? ''} no longer exists`
        : `the requested server ${request.serverId ?? ''} is not active`,
    )
  }
  const { plan: chosen } = planned
  const failover = [...excluded].map(([id, why]) => {
    const name = snapshot.servers.find((server) => server.id === id)?.name ?? id
    return `${name} is ${why}`
  })
  if (failover.length > 0 && chosen.routing.step !== 'forced-server')
    chosen.routing = {
      ...chosen.routing,
      reason: `${chosen.routing.reason} (failover: ${failover.join('; ')})`,
    }
  return {
    kind: 'planned',
    sending: {
      server: chosen.server,
      serverId: chosen.server?.id ?? DEFAULT_SERVER_ID,
      headerFrom: chosen.headerFrom,
      envelopeFrom: chosen.envelopeFrom,
      replyTo: chosen.replyTo,
      routing: chosen.routing,
      sender: { address: sender.address, domain: sender.domain },
    },
  }
}
