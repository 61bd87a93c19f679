import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { ApiKey, Scope } from '@outbound/config'
import { AppError } from '../errors.js'
import { consoleSessionKey, isCrossSiteChange } from '../console-session.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one (health, docs) are public. */
    scope?: Scope
  }
  interface FastifyRequest {
    /** Who called: an API key's name, or `local` when auth is off (loopback only). */
    principal: string
    /** The key carries the `sandbox` scope: its mail is never handed to a server. */
    sandbox: boolean
  }
}

const digest = (secret: string) => createHash('sha256').update(secret).digest()

/** The secret a request presents: `Bearer <secret>`, or HTTP Basic with the secret as password. */
function presentedSecret(request: FastifyRequest, allowBasic: boolean): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (bearer !== null) return bearer[1]
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (!allowBasic || basic === null) return undefined
  const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8')
  return decoded.slice(decoded.indexOf(':') + 1)
}

export type Authenticator = (
  request: FastifyRequest,
  scope: Scope,
  options?: { allowBasic?: boolean },
) => string

/** Whether the request's key carries the `sandbox` scope (false with auth off). */
export type SandboxCheck = (request: FastifyRequest) => boolean

/**
 * Checks a request's API key and scope; returns the key's name, or throws UNAUTHORIZED or
 * FORBIDDEN. Secrets are compared as SHA-256 digests in constant time, against every key, so
 * timing tells nothing about which key or how much of it matched. With no keys configured, auth
 * is off (the API then listens on loopback only) and the principal is `local`.
 */
export function createAuthenticator(
  apiKeys: readonly ApiKey[],
  now: () => Date = () => new Date(),
): Authenticator {
  const keys = apiKeys.map((key) => ({ key, digest: digest(key.secret) }))
  return (request, scope, options = {}) => {
    if (keys.length === 0) {
      // Auth off (loopback only): a page of another site open in the operator's browser can
      // still reach 127.0.0.1; its changes are refused.
      if (isCrossSiteChange(request)) {
        throw new AppError('FORBIDDEN', "a change from another site's page (Origin) is refused")
      }
      return 'local'
    }
    const secret = presentedSecret(request, options.allowBasic === true)
    if (secret === undefined) {
      // The console's session cookie stands for the key typed into it (console-session.ts).
      const session = consoleSessionKey(request, apiKeys, now())
      if (session !== undefined) return checkScope(session, scope)
      throw new AppError('UNAUTHORIZED', 'send an API key as `Authorization: Bearer <key>`')
    }
    const given = digest(secret)
    let found: ApiKey | undefined
    for (const candidate of keys) {
      if (timingSafeEqual(candidate.digest, given)) found = candidate.key
    }
    if (found === undefined) throw new AppError('UNAUTHORIZED', 'the API key is not valid')
    return checkScope(found, scope)
  }
}

function checkScope(key: ApiKey, scope: Scope): string {
  if (!key.scopes.includes(scope)) {
    throw new AppError('FORBIDDEN', `this API key lacks the "${scope}" scope`)
  }
  return key.name
}

/**
 * Sandbox keys by name: the check runs after authentication, so the name is the key that was
 * proved, never one the request merely claims.
 */
export function createSandboxCheck(apiKeys: readonly ApiKey[]): SandboxCheck {
  const sandboxed = new Set(
    apiKeys.filter((key) => key.scopes.includes('sandbox')).map((key) => key.name),
  )
  return (request) => sandboxed.has(request.principal)
}

/** API keys with scopes (CONTRACT.md) on every route that declares `config.scope`. */
export const auth = fp(
  (app: FastifyInstance, options: { authenticate: Authenticator; isSandbox?: SandboxCheck }) => {
    app.decorateRequest('principal', '')
    app.decorateRequest('sandbox', false)
    app.addHook('onRequest', async (request) => {
      const scope = request.routeOptions.config.scope
      request.principal = scope === undefined ? '' : options.authenticate(request, scope)
      request.sandbox = scope !== undefined && options.isSandbox?.(request) === true
    })
  },
  { name: 'auth' },
)
