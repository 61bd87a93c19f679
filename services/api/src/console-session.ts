import { createHmac, timingSafeEqual } from 'node:crypto'
import type { ApiKey } from '@outbound/config'
import { AppError } from './errors.js'

/** The console's session cookie (HttpOnly, SameSite=Strict, Path=/). */
export const SESSION_COOKIE = 'outbound_console'
/** How long a console session lasts after the key was typed in. */
export const SESSION_TTL_SECONDS = 12 * 60 * 60
/** The header the console sends on every request; a page of another site cannot send it. */
export const CONSOLE_HEADER = 'x-outbound-console'

// A session is `v1.<key name>.<expires, Unix seconds>.<MAC>`, the MAC an HMAC-SHA256 keyed by a
// key derived from the API key's own secret. The cookie holds no secret; any API process can check
// it without shared state; removing or rotating a key in OUTBOUND_API_KEYS ends its sessions.
const VERSION = 'v1'
const KEY_CONTEXT = 'outbound console session\0'

const macKey = (secret: string) => createHmac('sha256', KEY_CONTEXT).update(secret).digest()
const mac = (secret: string, payload: string) =>
  createHmac('sha256', macKey(secret)).update(payload).digest()

/** The cookie value of a new session for `key`, valid until now + SESSION_TTL_SECONDS. */
export function issueSession(key: ApiKey, now: Date): string {
  const name = Buffer.from(key.name).toString('base64url')
  const expires = Math.floor(now.getTime() / 1000) + SESSION_TTL_SECONDS
  const payload = `${VERSION}.${name}.${expires}`
  return `${payload}.${mac(key.secret, payload).toString('base64url')}`
}

/** The value of one cookie in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return undefined
}

/** The API key a session cookie stands for, when its MAC checks out and it has not expired. */
export function verifySession(
  value: string | undefined,
  keys: readonly ApiKey[],
  now: Date,
): ApiKey | undefined {
  const match = /^v1\.([A-Za-z0-9_-]{1,200})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '')
  if (match === null) return undefined
  const [, encodedName = '', expires = '0', given = ''] = match
  if (Number(expires) * 1000 <= now.getTime()) return undefined
  const name = Buffer.from(encodedName, 'base64url').toString('utf8')
  const key = keys.find((candidate) => candidate.name === name)
  if (key === undefined) return undefined
  const expected = mac(key.secret, `${VERSION}.${encodedName}.${expires}`)
  const presented = Buffer.from(given, 'base64url')
  return presented.length === expected.length && timingSafeEqual(presented, expected)
    ? key
    : undefined
}

/** Set-Cookie for a session (an empty value and Max-Age=0 clears it). */
export function sessionCookie(value: string, options: { secure: boolean }): string {
  const maxAge = value === '' ? 0 : SESSION_TTL_SECONDS
  const secure = options.secure ? '; Secure' : ''
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`
}

/**
 * Whether a request carried by the session cookie may change something: it must carry the
 * console's header (a cross-site form or fetch without CORS cannot) and, when the browser says
 * where it comes from, come from this host. SameSite=Strict already keeps the cookie off requests
 * that other sites start; this is the second lock.
 */
export function isSameOriginConsoleRequest(
  headers: Record<string, string | string[] | undefined>,
): boolean {
  if (headers[CONSOLE_HEADER] !== '1') return false
  const origin = headers['origin']
  if (origin === undefined) return true
  if (typeof origin !== 'string') return false
  try {
    // Behind a reverse proxy that rewrites Host, the host the browser used is X-Forwarded-Host.
    const host = new URL(origin).host
    return host === headers['host'] || host === headers['x-forwarded-host']
  } catch {
    // An Origin that is not a URL ("null" from a sandboxed frame) is not this host.
    return false
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Whether a request would change something on behalf of another site's page: a browser sends
 * `Origin` with a cross-site POST (a `text/plain` form or fetch needs no CORS), and that origin is
 * not this host. Programs (curl, services) send no `Origin`; the console's own page sends this host.
 */
export function isCrossSiteChange(request: {
  method: string
  headers: Record<string, string | string[] | undefined>
}): boolean {
  if (SAFE_METHODS.has(request.method)) return false
  const origin = request.headers['origin']
  if (origin === undefined) return false
  if (typeof origin !== 'string') return true
  try {
    const host = new URL(origin).host
    return host !== request.headers['host'] && host !== request.headers['x-forwarded-host']
  } catch {
    return true
  }
}

/**
 * The API key behind a request's console session cookie, or undefined when it has none (or one
 * that is forged or expired). A state-changing request on a session that does not come from the
 * console's own page is refused: FORBIDDEN.
 */
export function consoleSessionKey(
  request: { method: string; headers: Record<string, string | string[] | undefined> },
  keys: readonly ApiKey[],
  now: Date,
): ApiKey | undefined {
  const cookie = request.headers['cookie']
  const key = verifySession(
    readCookie(typeof cookie === 'string' ? cookie : undefined, SESSION_COOKIE),
    keys,
    now,
  )
  if (key === undefined) return undefined
  if (!SAFE_METHODS.has(request.method) && !isSameOriginConsoleRequest(request.headers)) {
    throw new AppError(
      'FORBIDDEN',
      `a console session changes things only from the console's own page (header ${CONSOLE_HEADER}: 1, same Origin)`,
    )
  }
  return key
}
