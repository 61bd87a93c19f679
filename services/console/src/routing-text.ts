// A message's routing (`{step, reason}`) in words: which step of the waterfall (DOMAIN.md §4)
// chose its server, and whether it left through another server because of a failover.

export type RoutingExplanation = {
  /** "Step 2 of 5: the notification address's domain matched a from filter" */
  headline: string
  /** The server it went to, by name where the record gives one. */
  server: string
  /** The API's own reason, word for word. */
  reason: string
  /** "A is down (refused)" when the message left through another server; else null. */
  failover: string | null
}

const STEPS: Record<string, string> = {
  'forced-server': 'Forced: the request named its server (the waterfall is skipped)',
  'mass-dedicated-server': "Forced: the mass stream's dedicated server (the waterfall is skipped)",
  'sender-address': "Step 1 of 5: the sender's address matched a from filter",
  'sender-domain': "Step 1 of 5: the sender's domain matched a from filter",
  'notification-address': 'Step 2 of 5: the notification address matched a from filter',
  'notification-domain': "Step 2 of 5: the notification address's domain matched a from filter",
  'server-without-filter': 'Step 3 of 5: no filter matched; the first server without a from filter',
  'first-server': 'Step 4 of 5: no filter matched; the first server of all',
  'default-server': 'Step 5 of 5: no servers are configured; the built-in default server',
}

export function explainRouting(
  routing: { step: string; reason: string } | null,
  server: { serverId: string | null; serverName?: string | null | undefined },
): RoutingExplanation | null {
  if (routing === null) return null
  const failover = /\(failover: (.+)\)\s*$/.exec(routing.reason)?.[1] ?? null
  const name =
    server.serverName ??
    (server.serverId === null || server.serverId === 'default'
      ? 'the built-in default server'
      : server.serverId)
  return {
    headline: STEPS[routing.step] ?? `Routing step "${routing.step}"`,
    server: name,
    reason: routing.reason,
    failover,
  }
}
