import { aliasAddresses, aliasDomainFor } from '@outbound/rewrite'
import type { ConfigCache, ConfigSnapshot } from '@outbound/store'
import { AppError } from './errors.js'
import type { ValidatedEmail } from './validate-email.js'

/** What acceptance takes from the configuration for one email. */
export type References = {
  /** The domain of the Message-ID header: the alias domain's, else the sender's. */
  messageIdDomain: string
}

function problem(snapshot: ConfigSnapshot, email: ValidatedEmail): AppError | null {
  if (email.serverId !== null) {
    const server = snapshot.servers.find((s) => s.id === email.serverId)
    if (server === undefined) {
      return new AppError('UNKNOWN_SERVER', `no outgoing server ${email.serverId}`, {
        field: 'serverId',
      })
    }
    if (!server.active) {
      return new AppError('SERVER_INACTIVE', `outgoing server ${email.serverId} is not active`, {
        field: 'serverId',
      })
    }
  }
  if (email.companyId !== null && !snapshot.companies.some((c) => c.id === email.companyId)) {
    return new AppError('UNKNOWN_COMPANY', `no company ${email.companyId}`, { field: 'companyId' })
  }
  return null
}

/**
 * Checks serverId and companyId against the configuration (re-reading it once before calling an
 * id unknown: another API instance may have just created it) and derives what acceptance needs.
 */
export async function resolveReferences(
  cache: ConfigCache,
  email: ValidatedEmail,
): Promise<References> {
  let snapshot = cache.current()
  if (problem(snapshot, email) !== null) {
    await cache.refresh()
    snapshot = cache.current()
    const error = problem(snapshot, email)
    if (error !== null) throw error
  }
  const company = snapshot.companies.find((c) => c.id === email.companyId) ?? null
  const aliasDomain = aliasDomainFor(company?.aliasDomainId ?? null, snapshot.aliasDomains)
  return {
    messageIdDomain:
      aliasDomain === null ? email.from.domain.toLowerCase() : aliasAddresses(aliasDomain).domain,
  }
}
