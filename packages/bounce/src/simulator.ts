/**
 * The sandbox's test addresses (CONTRACT.md, Sandbox keys). `.test` is reserved (RFC 2606): no
 * real mailbox can live there, so mail to these addresses can only ever be acted out.
 */
export const SIMULATOR_DOMAIN = 'simulator.test'

/** What mail from a sandbox key to a simulator address acts out. */
export type SimulatedOutcome = 'delivered' | 'bounce' | 'defer' | 'complaint' | 'suppressed'

const SCRIPTS: readonly SimulatedOutcome[] = [
  'delivered',
  'bounce',
  'defer',
  'complaint',
  'suppressed',
]

/**
 * The outcome a simulator address acts out, or null for any other address (including an unknown
 * local part at the simulator domain, which is simply delivered to the outbox like other mail).
 * Takes a bare address; case does not matter.
 */
export function simulatedOutcome(address: string): SimulatedOutcome | null {
  const at = address.lastIndexOf('@')
  if (at < 0 || address.slice(at + 1).toLowerCase() !== SIMULATOR_DOMAIN) return null
  const local = address.slice(0, at).toLowerCase()
  return SCRIPTS.find((script) => script === local) ?? null
}

/** The SMTP reply a simulator recipient gets on this attempt; null: accepted. */
export function simulatedRefusal(
  outcome: SimulatedOutcome | null,
  deferredBefore: boolean,
): { code: number; response: string } | null {
  switch (outcome) {
    case 'bounce':
      return { code: 550, response: '550 5.1.1 simulated hard bounce: no such user (sandbox)' }
    case 'defer':
      // Once: the retry of a recipient deferred before is accepted.
      return deferredBefore
        ? null
        : { code: 451, response: '451 4.7.1 simulated temporary refusal (sandbox)' }
    case 'delivered':
    case 'complaint':
    case 'suppressed':
    case null:
      return null
  }
}
