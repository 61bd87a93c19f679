import { simulatedOutcome, simulatedRefusal } from '@outbound/bounce'
import type {
  MessageTransport,
  OutgoingMessage,
  RecipientRefusal,
  SendResult,
} from './message-transport.js'

/**
 * Where a sandbox key's mail goes (CONTRACT.md, Sandbox keys): recipients at `simulator.test`
 * get the reply they act out, as a server would give it at RCPT; the accepted ones are written to
 * the file outbox. Built for one attempt: `deferredBefore` names the recipients an earlier attempt
 * deferred (so `defer@` is refused once, then accepted).
 */
export function createSandboxOutbox(
  outbox: MessageTransport,
  deferredBefore: ReadonlySet<string>,
): MessageTransport {
  return {
    description: `sandbox, ${outbox.description}`,
    async send(message: OutgoingMessage): Promise<SendResult> {
      const accepted: string[] = []
      const rejected: RecipientRefusal[] = []
      for (const address of message.envelope.to) {
        const refusal = simulatedRefusal(simulatedOutcome(address), deferredBefore.has(address))
        if (refusal === null) accepted.push(address)
        else rejected.push({ address, responseCode: refusal.code, response: refusal.response })
      }
      // Every recipient refused: no DATA, so nothing is committed or written, as with a server.
      if (accepted.length === 0)
        return { response: rejected.at(-1)?.response ?? '', accepted, rejected }
      const written = await outbox.send({
        ...message,
        envelope: { ...message.envelope, to: accepted },
      })
      return { ...written, accepted, rejected }
    },
    // The outbox is shared by every attempt; its owner closes it.
    async close() {},
  }
}
