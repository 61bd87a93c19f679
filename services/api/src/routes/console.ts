import { createHash, timingSafeEqual } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { ApiKey } from '@outbound/config'
import {
  CONSOLE_HEADER,
  issueSession,
  isSameOriginConsoleRequest,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
  verifySession,
} from '../console-session.js'
import { AppError } from '../errors.js'
import { errorResponses } from './v1/config-schemas.js'

export type ConsoleRoutesOptions = {
  /** The console's built bundle (services/console/dist); undefined or missing: not built. */
  dir: string | undefined
  apiKeys: readonly ApiKey[]
  now: () => Date
}

export const CONSOLE_PATH = '/console'

const SessionSchema = Type.Object({
  authRequired: Type.Boolean({ description: 'false when OUTBOUND_API_KEYS is unset (loopback)' }),
  signedIn: Type.Boolean(),
  name: Type.Union([Type.String(), Type.Null()], { description: "the API key's name" }),
  scopes: Type.Array(Type.String(), { description: 'what the session may do: the key’s scopes' }),
})

// Everything the page loads comes from this origin; nothing may leave it (CONTRACT.md).
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'cache-control': 'no-cache',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
}
const ALL_SCOPES = ['send', 'read', 'admin']
const digest = (secret: string) => createHash('sha256').update(secret).digest()

/**
 * The operator console: its single-page app under /console (every deep link answers the app's
 * page) and its session: the key typed in once, held in an HttpOnly, SameSite=Strict cookie that
 * the auth plugin accepts for /v1 (console-session.ts).
 */
export const consoleRoutes: FastifyPluginAsyncTypebox<ConsoleRoutesOptions> = async (
  app,
  options,
) => {
  const { apiKeys, now } = options
  const keys = apiKeys.map((key) => ({ key, digest: digest(key.secret) }))
  const tags = ['console']

  app.get(
    `${CONSOLE_PATH}/session`,
    {
      schema: {
        tags,
        summary: "The console session: whether a key is needed, and the signed-in key's scopes",
        security: [],
        response: { 200: SessionSchema },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store')
      if (keys.length === 0)
        return { authRequired: false, signedIn: true, name: null, scopes: ALL_SCOPES }
      const key = verifySession(readCookie(request.headers.cookie, SESSION_COOKIE), apiKeys, now())
      return key === undefined
        ? { authRequired: true, signedIn: false, name: null, scopes: [] }
        : { authRequired: true, signedIn: true, name: key.name, scopes: [...key.scopes] }
    },
  )

  app.post(
    `${CONSOLE_PATH}/session`,
    {
      schema: {
        tags,
        summary: 'Sign in to the console with an API key (sets the session cookie)',
        security: [],
        description:
          `The key needs the \`read\` scope; \`admin\` unlocks changes. The session lasts 12 h. ` +
          `Send the header \`${CONSOLE_HEADER}: 1\` (the console does).`,
        body: Type.Object(
          { key: Type.String({ minLength: 1, maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        response: { 200: SessionSchema, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      if (!isSameOriginConsoleRequest(request.headers)) {
        throw new AppError(
          'FORBIDDEN',
          `sign in from the console's page (header ${CONSOLE_HEADER})`,
        )
      }
      if (keys.length === 0) {
        return { authRequired: false, signedIn: true, name: null, scopes: ALL_SCOPES }
      }
      const given = digest(request.body.key)
      let found: ApiKey | undefined
      // Every key is compared, in constant time, as in the auth plugin.
      for (const candidate of keys)
        if (timingSafeEqual(candidate.digest, given)) found = candidate.key
      if (found === undefined) throw new AppError('UNAUTHORIZED', 'the API key is not valid')
      if (!found.scopes.includes('read')) {
        throw new AppError('FORBIDDEN', 'the console needs an API key with the "read" scope')
      }
      void reply
        .header(
          'set-cookie',
          sessionCookie(issueSession(found, now()), { secure: isHttps(request) }),
        )
        .header('cache-control', 'no-store')
      return { authRequired: true, signedIn: true, name: found.name, scopes: [...found.scopes] }
    },
  )

  app.delete(
    `${CONSOLE_PATH}/session`,
    {
      schema: {
        tags,
        summary: 'Sign out of the console (clears the session cookie)',
        security: [],
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) =>
      reply
        .header('set-cookie', sessionCookie('', { secure: isHttps(request) }))
        .status(204)
        .send(null),
  )

  const dir = options.dir
  if (dir === undefined || !existsSync(join(dir, 'index.html'))) {
    const notBuilt = async () => {
      throw new AppError('NOT_FOUND', 'the console is not built: run `pnpm build`')
    }
    app.get(CONSOLE_PATH, { schema: { hide: true } }, notBuilt)
    app.get(`${CONSOLE_PATH}/*`, { schema: { hide: true } }, notBuilt)
    return
  }

  // Hashed file names: a build never changes a file under an existing name.
  await app.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: `${CONSOLE_PATH}/assets/`,
    index: false,
    immutable: true,
    maxAge: '365d',
    schemaHide: true,
  })
  // Every other path under /console is a page of the app: its router reads the URL.
  const page = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.headers(PAGE_HEADERS).sendFile('index.html', dir, { cacheControl: false })
  app.get(CONSOLE_PATH, { schema: { hide: true } }, page)
  app.get(`${CONSOLE_PATH}/*`, { schema: { hide: true } }, page)
}

/**
 * Whether the browser reached the API over HTTPS: directly, or through a proxy that says so. The
 * API itself listens on plain HTTP, so behind a TLS proxy only `X-Forwarded-Proto` tells. A forged
 * header can only make the cookie stricter (Secure), never weaker.
 */
function isHttps(request: FastifyRequest): boolean {
  const forwarded = request.headers['x-forwarded-proto']
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
  return request.protocol === 'https' || proto === 'https'
}
