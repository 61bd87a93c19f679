import { refusesMessage } from '@outbound/bounce'
import { packRawSource } from '@outbound/store'
import {
  AfterCommitError,
  HandoffRevokedError,
  type MessageTransport,
} from '../transports/message-transport.js'
import { sendingFields } from './gate.js'
import type { Rendered } from './render.js'
import type { Attempt, DeliverDeps, Ended, Gated, Sending } from './types.js'

type SmtpFailure = {
  responseCode?: unknown
  response?: unknown
  command?: unknown
  message: string
}

function asSmtpFailure(err: unknown): SmtpFailure {
  const cause = err instanceof AfterCommitError ? err.cause : err
  return cause instanceof Error ? cause : { message: String(cause) }
}

/** An error of the transport as the outcome of the attempt. */
export function failedOutcome(err: unknown): Ended {
  const failure = asSmtpFailure(err)
  const code = typeof failure.responseCode === 'number' ? failure.responseCode : null
  const command = typeof failure.command === 'string' ? failure.command : null
  const response = typeof failure.response === 'string' ? failure.response : failure.message
  const afterCommit = err instanceof AfterCommitError
  return {
    kind: 'ended',
    outcome: {
      kind: 'failed',
      cause: refusesMessage({ code, command }) ? 'refused' : 'temporary',
      code,
      response: afterCommit ? `${response} (the connection ended after the end of data)` : response,
    },
    afterCommit,
    command,
  }
}

/**
 * Stage 5: hands the message to the server. The end of DATA is written only after the store
 * committed the hand-over while this attempt still holds its claim; a canceled or taken-over
 * message is not handed over (`revoked`).
 */
export async function handOver(
  { message, token }: Attempt,
  sending: Sending,
  gated: Gated,
  rendered: Rendered,
  transport: MessageTransport,
  deps: Pick<DeliverDeps, 'store' | 'now' | 'rawRetentionMs'>,
  pace?: () => Promise<void>,
): Promise<Ended | { kind: 'revoked' }> {
  const retentionMs = deps.rawRetentionMs ?? 0
  // Compressed while the connection opens; stored by the commit, in the same Redis step.
  const packing = retentionMs > 0 ? packRawSource(rendered.raw) : null
  // The raw source is a convenience: when it cannot be packed, the message goes without it.
  const packed = packing === null ? Promise.resolve(null) : packing.catch(() => null)
  try {
    const result = await transport.send({
      id: message.id,
      envelope: { from: sending.envelopeFrom, to: gated.pending.map((r) => r.address) },
      raw: rendered.raw,
      // Transactional mail goes before mass mail queued for the same connections.
      urgent: message.stream === 'transactional',
      commit: async () =>
        deps.store.commitHandoff(
          message.id,
          token,
          deps.now(),
          { ...sendingFields(sending), dkim: rendered.dkim },
          await packed.then((bytes) =>
            bytes === null ? undefined : { packed: bytes, retentionMs },
          ),
        ),
      ...(pace === undefined ? {} : { beforeTransaction: pace }),
    })
    return {
      kind: 'ended',
      outcome: {
        kind: 'replied',
        response: result.response,
        accepted: result.accepted,
        refused: result.rejected.map((entry) => ({
          address: entry.address,
          code: entry.responseCode,
          response: entry.response,
        })),
      },
      afterCommit: true,
    }
  } catch (err) {
    if (err instanceof HandoffRevokedError) return { kind: 'revoked' }
    return failedOutcome(err)
  }
}
