import type { ConfigSnapshot } from '@outbound/store'

/** What GET /v1/quota calls the built-in default server (SMTP_URL or the outbox). */
export const DEFAULT_SERVER_NAME = 'built-in default server'

/**
 * The name of the server a message went through, for callers that may not read GET /v1/servers
 * (`admin`): null before a hand-over, or when the server has been deleted since.
 */
export function serverNameOf(snapshot: ConfigSnapshot, serverId: string | null): string | null {
  if (serverId === null) return null
  if (serverId === 'default') return DEFAULT_SERVER_NAME
  return snapshot.servers.find((server) => server.id === serverId)?.name ?? null
}
