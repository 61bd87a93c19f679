import { formatMailbox, type Mailbox } from '@outbound/address'
import {
  addressKey,
  filterParts,
  matchesParts,
  type PreparedServers,
  type RoutingStep,
  selectServer,
  type SelectServerFailure,
  type ServerCandidate,
} from '@outbound/routing'
import { aliasAddresses, type AliasDomain, aliasDomainFor } from './alias-domain.js'

/** The settings that shape routing and rewriting (Odoo's system parameters). */
export type RoutingSettings = {
  defaultFromFilter: string | null
  forceSmtpFrom: string | null
  dynamicSmtpFrom: string | null
  massDedicatedServerId: string | null
}

export type DeliveryPlanInput<S extends ServerCandidate> = {
  sender: Mailbox
  replyTo: string | null
  reference: string | null
  stream: 'transactional' | 'mass'
  serverId: string | null
  company: { name: string; aliasDomainId: string | null } | null
  aliasDomains: readonly AliasDomain[]
  settings: RoutingSettings
  servers: readonly S[]
  prepared: PreparedServers<S>
}

export type DeliveryPlan<S extends ServerCandidate> = {
  /** null: the built-in default server. */
  server: S | null
  headerFrom: string
  envelopeFrom: string
  replyTo: string
  routing: { step: RoutingStep; reason: string }
  /** The domain of Message-ID: the alias domain's, else the sender's. */
  messageIdDomain: string
}

const sameAddress = (a: string, b: string) => {
  const keyA = addressKey(a)
  const keyB = addressKey(b)
  return keyA !== null && keyB !== null && keyA.address === keyB.address
}

/** The address every From is forced to, if any, and why (DOMAIN.md §5; force wins over dynamic). */
function fromOverride(
  sender: Mailbox,
  settings: RoutingSettings,
  alias: ReturnType<typeof aliasAddresses> | null,
): { address: string; why: string } | null {
  if (settings.forceSmtpFrom !== null)
    return { address: settings.forceSmtpFrom, why: 'forceSmtpFrom is set' }
  if (settings.dynamicSmtpFrom !== null && addressKey(sender.address)?.domain !== alias?.domain) {
    return {
      address: settings.dynamicSmtpFrom,
      why: "dynamicSmtpFrom is set and the sender's domain is not the alias domain",
    }
  }
  if (alias?.defaultFromIsAddress === true) {
    return { address: alias.notification, why: "the alias domain's default From is a full address" }
  }
  return null
}

/**
 * Which server sends a message and what it looks like on the wire: the waterfall of DOMAIN.md §4
 * and the From, MAIL FROM and Reply-To rules of §5. Fails only for an unusable serverId.
 */
export function planDelivery<S extends ServerCandidate>(
  input: DeliveryPlanInput<S>,
): { ok: true; plan: DeliveryPlan<S> } | { ok: false; code: SelectServerFailure } {
  const { sender, settings } = input
  const aliasDomain = aliasDomainFor(input.company?.aliasDomainId ?? null, input.aliasDomains)
  const alias = aliasDomain === null ? null : aliasAddresses(aliasDomain)
  const override = fromOverride(sender, settings, alias)

  const selected = selectServer({
    sender: override?.address ?? sender.address,
    notification: alias?.notification ?? null,
    servers: input.servers,
    prepared: input.prepared,
    serverId: input.serverId,
    massDedicatedServerId: input.stream === 'mass' ? settings.massDedicatedServerId : null,
    defaultFromFilter: settings.defaultFromFilter,
  })
  if (!selected.ok) return selected
  const { server, step, reason } = selected.selection
  const sendingAddress = override?.address ?? selected.selection.sendingAddress

  // The sender is kept as given when it is what goes out; otherwise it is encapsulated:
  // "Mary" <mary@customer.example.com> goes out as "Mary" <notifications@…>.
  const headerFrom = sameAddress(sendingAddress, sender.address)
    ? formatMailbox(sender)
    : formatMailbox({ name: sender.name ?? sender.local, address: sendingAddress })

  const filter = server === null ? settings.defaultFromFilter : server.fromFilter
  const envelopeFrom =
    alias !== null && matchesParts(filterParts(filter), addressKey(alias.bounce))
      ? alias.bounce
      : sendingAddress

  const replyTo =
    input.replyTo ??
    (input.reference !== null && alias !== null
      ? formatMailbox({
          name: input.company?.name ?? aliasDomain?.name ?? null,
          address: alias.catchall,
        })
      : formatMailbox(sender))

  return {
    ok: true,
    plan: {
      server,
      headerFrom,
      envelopeFrom,
      replyTo,
      routing: {
        step,
        reason:
          override === null
            ? reason
            : `${reason}; From is ${override.address} because ${override.why}`,
      },
      messageIdDomain: alias?.domain ?? sender.domain.toLowerCase(),
    },
  }
}
