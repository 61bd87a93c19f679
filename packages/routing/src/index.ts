export {
  /** The comparison form of a bare address and its domain, or null. */
  addressKey,
  type AddressKey,
  /** Parsed filter parts; a filter that does not parse matches nothing. */
  filterParts,
  type FilterPart,
  /** Whether an address matches a from filter (empty filter: every address). */
  matchesFilter,
  /** Whether an address key matches parsed filter parts. */
  matchesParts,
  type ParsedFilter,
  /** Parses a from filter, or names its first invalid part. */
  parseFromFilter,
} from './from-filter.js'
export {
  /** Active servers with parsed filters in waterfall order. */
  prepareServers,
  type PreparedServers,
  type RoutingStep,
  /** The server and sending address of DOMAIN.md §4; fails for an unusable serverId. */
  selectServer,
  type Selection,
  type SelectServerFailure,
  type SelectServerInput,
  type ServerCandidate,
} from './select-server.js'
