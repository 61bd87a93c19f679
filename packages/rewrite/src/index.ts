export {
  /** N, B and the catchall of an alias domain. */
  aliasAddresses,
  type AliasAddresses,
  type AliasDomain,
  /** The company's alias domain, else the lowest-sequence one, else null. */
  aliasDomainFor,
  /** An alias domain name, trimmed and lower-cased; null when invalid. */
  sanitizeAliasDomainName,
  /** An alias local part as Odoo saves it; null when nothing is left. */
  sanitizeAliasLocalPart,
  /** A defaultFrom: a bare full address or a sanitised local part; null when invalid. */
  sanitizeDefaultFrom,
} from './alias-domain.js'
export {
  type DeliveryPlan,
  type DeliveryPlanInput,
  /** The server, From, MAIL FROM, Reply-To and routing reason of a message; fails for a bad serverId. */
  planDelivery,
  type RoutingSettings,
} from './plan-delivery.js'
