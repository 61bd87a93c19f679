import { parseMailbox } from '@outbound/address'
import type { AliasDomainRecord, DkimOutcome } from '@outbound/store'
import { listHeaders } from '../list-headers.js'
import { renderMessage } from '../render-message.js'
import type { Attempt, DeliverDeps, Sending } from './types.js'

/** The bytes to hand over, signed, with what the record says about them. */
export type Rendered = { raw: Buffer; dkim: DkimOutcome; warnings: string[] }

/**
 * The deliverability seed's warning: a sender at a domain with DMARC p=quarantine or p=reject
 * (yahoo.com, aol.com …) that goes out unrewritten will fail DMARC at receivers, since the mail is
 * neither signed by that domain nor sent from its servers.
 */
async function senderWarnings(
  dmarcPolicy: DeliverDeps['dmarcPolicy'],
  sending: Sending,
  aliasDomains: readonly { name: string }[],
): Promise<string[]> {
  const from = parseMailbox(sending.headerFrom)
  const { sender } = sending
  const domain = sender.domain.toLowerCase()
  const ours = aliasDomains.some((aliasDomain) => aliasDomain.name.toLowerCase() === domain)
  if (from === null || from.address.toLowerCase() !== sender.address.toLowerCase() || ours)
    return []
  const policy = await dmarcPolicy(domain)
  if (policy !== 'quarantine' && policy !== 'reject') return []
  return [
    `${domain} publishes DMARC p=${policy} and this message goes out from ${sender.address} unrewritten: receivers will ${policy === 'reject' ? 'reject' : 'quarantine'} it. Send from an alias domain, or let the waterfall rewrite it (a server filtered for ${domain} keeps the sender).`,
  ]
}

/**
 * Stage 4: the message as it goes on the wire, DKIM-signed before the hand-over starts, so the
 * bytes are final before the commit gate.
 */
export async function render(
  { message }: Attempt,
  sending: Sending,
  aliasDomains: readonly AliasDomainRecord[],
  deps: Pick<DeliverDeps, 'sign' | 'dmarcPolicy' | 'now' | 'listUnsubscribe'>,
): Promise<Rendered> {
  const list = listHeaders(message, sending.headerFrom, deps.listUnsubscribe)
  const [rendered, fromWarnings] = await Promise.all([
    renderMessage({
      record: message,
      content: message.content,
      headerFrom: sending.headerFrom,
      replyTo: sending.replyTo,
      date: deps.now(),
      extraHeaders: list.headers,
    }),
    senderWarnings(deps.dmarcPolicy, sending, aliasDomains),
  ])
  const signed = await deps.sign(
    rendered,
    parseMailbox(sending.headerFrom)?.address ?? sending.headerFrom,
    aliasDomains,
    deps.now(),
  )
  return { raw: signed.raw, dkim: signed.dkim, warnings: [...fromWarnings, ...list.warnings] }
}
