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

/**
 * Stage 2: which server sends the message and what goes on the wire (the waterfall and the rewrite
 * rules, on the configuration this process holds). Fails for a sender that no longer parses or a
 * forced server that is gone or inactive.
 */
export function plan(
  { message }: Attempt,
  context: RoutingContext,
): { kind: 'planned'; sending: Sending } | Ended {
  const { request } = message
  const sender = parseMailbox(request.from)
  if (sender === null) return ours('the stored sender does not parse')
  const { snapshot, prepared } = context
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
