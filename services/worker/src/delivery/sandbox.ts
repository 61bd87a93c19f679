import { normalizeAddressText } from '@outbound/address'
import { SIMULATOR_DOMAIN, simulatedOutcome } from '@outbound/bounce'
import { recipientEvent } from '@outbound/jobs'
import { newId } from '@outbound/runtime'
import { messageSummary, SANDBOX_SERVER_ID } from '@outbound/store'
import type { MessageTransport } from '../transports/message-transport.js'
import { createSandboxOutbox } from '../transports/sandbox-outbox.js'
import type { Attempt, DeliverDeps, Ended, Sending } from './types.js'

/**
 * Retry delays (seconds) of sandbox mail, instead of the stream's schedule: `defer@simulator.test`
 * is sent on its retry a few seconds later, so a CI run does not wait minutes.
 */
export const SANDBOX_RETRY_SCHEDULE_SECONDS: readonly number[] = [2, 2, 2, 2, 2]

/**
 * How a sandbox message is sent: everything routing and the rewrite rules decided (From,
 * envelope, Reply-To, DKIM by its alias domain), but no server. The record's routing keeps the
 * server the waterfall chose and says that it was not used; no server's quota, rate, connections
 * or health is touched.
 */
export function sandboxSending(sending: Sending): Sending {
  const chosen = sending.server === null ? 'the built-in default server' : sending.server.name
  return {
    ...sending,
    server: null,
    serverId: SANDBOX_SERVER_ID,
    routing: {
      ...sending.routing,
      reason: `${sending.routing.reason}; sandbox key: not handed to ${chosen}`,
    },
  }
}

/**
 * The transport of an attempt. The one place a sandbox message's transport is chosen: it can only
 * be the sandbox outbox, whatever server the routing chose.
 */
export function transportOf(
  { message }: Attempt,
  sending: Sending,
  deps: Pick<DeliverDeps, 'transports' | 'sandboxOutbox'>,
): MessageTransport {
  if (!message.sandbox) return deps.transports.forServer(sending.server)
  const deferredBefore = new Set(
    message.recipients.filter((r) => r.status === 'deferred').map((r) => r.address),
  )
  return createSandboxOutbox(deps.sandboxOutbox, deferredBefore)
}

/**
 * The suppression list as a sandbox message sees it: `suppressed@simulator.test` is on it, the
 * other simulator addresses never are (they act out their outcome on every run, even after
 * `bounce@` was suppressed by its hard bounce), other addresses as listed.
 */
export function sandboxSuppressions<Entry>(
  addresses: readonly string[],
  matches: readonly (Entry | null)[],
  suppressedEntry: Entry,
): (Entry | null)[] {
  return addresses.map((address, i) => {
    const outcome = simulatedOutcome(address)
    if (outcome === 'suppressed') return suppressedEntry
    return outcome === null ? (matches[i] ?? null) : null
  })
}

/**
 * `complaint@simulator.test` is sent, then complained about. The sent part is the attempt itself;
 * this hook records the complaint once the attempt's outcome is written.
 */
export async function actOutComplaints(
  { message }: Attempt,
  ended: Ended | { kind: 'revoked' },
  deps: Pick<DeliverDeps, 'now' | 'store' | 'bounces' | 'complaints' | 'newEventId'>,
): Promise<void> {
  if (!message.sandbox || ended.kind !== 'ended' || ended.outcome.kind !== 'replied') return
  for (const recipient of ended.outcome.accepted) {
    if (simulatedOutcome(recipient) === 'complaint')
      await recordSimulatedComplaint(message.id, recipient, deps)
  }
}

/**
 * Records the complaint a `complaint@simulator.test` recipient acts out, as a feedback report
 * would (POST /v1/bounces/inbound): the recipient suppressed for every mail (the sandbox ignores
 * that for simulator addresses), the complaint stored, counted and announced (`email.complained`,
 * `sandbox: true`) in one step. The sandbox server's complaint rate is nobody's reputation: no
 * warning is checked.
 */
async function recordSimulatedComplaint(
  messageId: string,
  address: string,
  deps: Pick<DeliverDeps, 'now' | 'store' | 'bounces' | 'complaints' | 'newEventId'>,
): Promise<void> {
  const message = await deps.store.getMessage(messageId)
  if (message === null) return
  const at = deps.now()
  const recipient = normalizeAddressText(address)
  await deps.bounces.addSuppression({
    address: recipient,
    reason: 'complaint',
    source: 'complaint',
    createdAt: at.toISOString(),
  })
  await deps.complaints.recordComplaint(
    {
      id: newId('cmp'),
      messageId,
      recipient,
      feedbackType: 'abuse',
      serverId: message.serverId,
      stream: message.stream,
      originalMessageId: null,
      reportingMta: SIMULATOR_DOMAIN,
      userAgent: 'Outbound sandbox simulator',
      sourceIp: null,
      arrivalDate: at.toISOString(),
      at: at.toISOString(),
    },
    recipientEvent(
      deps.newEventId(),
      'email.complained',
      at,
      messageSummary(message, message.serverId),
      message.status,
      {
        recipient: address,
        kind: 'abuse',
        reason: 'complaint',
        smtpCode: null,
        enhancedCode: null,
        diagnostic: 'acted out by complaint@simulator.test',
        source: 'feedback-loop',
      },
    ),
  )
}
