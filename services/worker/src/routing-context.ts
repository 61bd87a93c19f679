import { prepareServers, type PreparedServers } from '@outbound/routing'
import type { ConfigCache, ConfigSnapshot, OutgoingServer } from '@outbound/store'

export type RoutingContext = { snapshot: ConfigSnapshot; prepared: PreparedServers<OutgoingServer> }

/** The current configuration with its servers prepared for the waterfall, once per version. */
export function createRoutingContext(cache: ConfigCache): () => RoutingContext {
  let context: RoutingContext | undefined
  return () => {
    const snapshot = cache.current()
    if (context?.snapshot !== snapshot)
      context = { snapshot, prepared: prepareServers(snapshot.servers) }
    return context
  }
}
