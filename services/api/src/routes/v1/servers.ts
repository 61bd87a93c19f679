import { isIP } from 'node:net'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { toAsciiHostname } from '@outbound/address'
import { parseFromFilter, prepareServers } from '@outbound/routing'
import { openSecretWithAny, sealSecret } from '@outbound/secrets'
import { parseRateLimit, type ServerState } from '@outbound/quota'
import { type OutgoingServer, SECURITIES } from '@outbound/store'
import type { ConfigDeps } from '../../config-deps.js'
import { AppError } from '../../errors.js'
import { refuseUnsafeCharacters } from '../../header-safe.js'
import { testConnection } from '../../test-connection.js'
import {
  errorResponses,
  IdParams,
  MAX_SERVERS,
  Nullable,
  ServerStateViewSchema,
  stateView,
} from './config-schemas.js'

// Space-separated SPF mechanisms: include:, ip4:, ip6:, exists:, a[:…], mx[:…].
const SPF_TERMS = String.raw`^\s*(?:(?:include|ip4|ip6|exists):\S+|(?:a|mx)(?::\S+)?)(?:\s+(?:(?:include|ip4|ip6|exists):\S+|(?:a|mx)(?::\S+)?))*\s*$`

const ServerFields = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  host: Type.String({ minLength: 1, maxLength: 253, description: 'host name or IP address' }),
  port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  security: Type.Enum(SECURITIES, {
    description:
      '`none` (plain), `starttls` (upgrade required, usually 587) or `tls` (from the first byte, usually 465)',
  }),
  username: Nullable(Type.String({ maxLength: 256 })),
  password: Nullable(Type.String({ maxLength: 1024, description: 'write-only: never returned' })),
  sequence: Type.Integer({
    minimum: -1_000_000,
    maximum: 1_000_000,
    description: 'priority: lower first',
  }),
  fromFilter: Nullable(
    Type.String({
      maxLength: 4096,
      description: 'comma-separated domains and addresses; empty matches every sender',
    }),
  ),
  dailyLimit: Nullable(
    Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'null: unlimited' }),
  ),
  spf: Nullable(
    Type.String({
      maxLength: 500,
      pattern: SPF_TERMS,
      description:
        'the SPF mechanisms that authorise this server, e.g. include:_spf.provider.example (for the DNS check)',
    }),
  ),
  maxConnections: Type.Integer({
    minimum: 1,
    maximum: 100,
    description: 'SMTP connections to it from all worker processes together',
  }),
  rateLimit: Nullable(
    Type.String({
      maxLength: 32,
      description:
        '`"<n>/s"`, `"<n>/min"` or `"<n>/h"`: recipients handed over, across every worker, spread evenly; null: none',
    }),
  ),
  warmupSchedule: Nullable(
    Type.Array(Type.Integer(), {
      maxItems: 365,
      description:
        'daily limits for day 1, 2, … from when it is set; past its end dailyLimit applies',
    }),
  ),
  failover: Type.Boolean({
    description: 'whether mail may leave through another server while this one is down',
  }),
  active: Type.Boolean(),
}

const CreateServerSchema = Type.Object(
  {
    name: ServerFields.name,
    host: ServerFields.host,
    port: ServerFields.port,
    security: Type.Optional(ServerFields.security),
    username: Type.Optional(ServerFields.username),
    password: Type.Optional(ServerFields.password),
    sequence: Type.Optional(ServerFields.sequence),
    fromFilter: Type.Optional(ServerFields.fromFilter),
    dailyLimit: Type.Optional(ServerFields.dailyLimit),
    spf: Type.Optional(ServerFields.spf),
    maxConnections: Type.Optional(ServerFields.maxConnections),
    rateLimit: Type.Optional(ServerFields.rateLimit),
    warmupSchedule: Type.Optional(ServerFields.warmupSchedule),
    failover: Type.Optional(ServerFields.failover),
    active: Type.Optional(ServerFields.active),
  },
  { additionalProperties: false },
)
const UpdateServerSchema = Type.Partial(CreateServerSchema, { additionalProperties: false })
type UpdateServer = Static<typeof UpdateServerSchema>

const ServerSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
  security: Type.Enum(SECURITIES),
  username: Nullable(Type.String()),
  hasPassword: Type.Boolean(),
  sequence: Type.Integer(),
  fromFilter: Nullable(Type.String()),
  dailyLimit: Nullable(Type.Integer()),
  spf: Nullable(Type.String()),
  maxConnections: Type.Integer(),
  rateLimit: Nullable(Type.String()),
  warmupSchedule: Nullable(Type.Array(Type.Integer())),
  warmupStartedAt: Nullable(Type.String()),
  failover: Type.Boolean(),
  active: Type.Boolean(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  state: ServerStateViewSchema,
  connectionsInUse: Type.Optional(
    Type.Integer({
      description: 'SMTP connections open to it now, from every worker (in the list only)',
    }),
  ),
})

const TestResultSchema = Type.Object({
  ok: Type.Boolean(),
  stage: Type.String({ description: 'connect, tls, ehlo, auth, mail, rcpt, data, or done' }),
  detail: Type.String(),
  sender: Type.String({ description: 'the MAIL FROM the test used' }),
})

/** The API view of a server: everything but the password, with its state. */
function toView(
  {
    passwordSealed,
    spf = null,
    rateLimit = null,
    warmupSchedule = null,
    warmupStartedAt = null,
    failover = true,
    ...server
  }: OutgoingServer,
  state: ServerState | null,
) {
  return {
    ...server,
    spf,
    rateLimit,
    warmupSchedule,
    warmupStartedAt,
    failover,
    hasPassword: passwordSealed !== null,
    state: stateView(state, server.createdAt),
  }
}

function checkRateLimit(rateLimit: string | null): string | null {
  if (rateLimit === null) return null
  if (parseRateLimit(rateLimit) === null) {
    throw new AppError(
      'INVALID_RATE_LIMIT',
      `rateLimit "${rateLimit}" must be "<n>/s", "<n>/min" or "<n>/h" with n a whole number of 1 or more, or null`,
      { field: 'rateLimit' },
    )
  }
  return rateLimit.trim()
}

function checkWarmupSchedule(schedule: number[] | null): number[] | null {
  if (schedule === null) return null
  if (schedule.length === 0 || schedule.some((limit) => limit < 0 || limit > 100_000_000)) {
    throw new AppError(
      'INVALID_WARMUP_SCHEDULE',
      'warmupSchedule must be a list of 1 to 365 daily limits, each a whole number from 0 to 100000000, or null',
      { field: 'warmupSchedule' },
    )
  }
  return schedule
}

function checkHost(host: string): string {
  const bare = host.trim().replace(/^\[(.*)\]$/, '$1')
  if (isIP(bare) === 0 && toAsciiHostname(bare) === null) {
    throw new AppError('INVALID_HOST', `host "${host}" is not a host name or IP address`, {
      field: 'host',
    })
  }
  return bare
}

function checkFromFilter(filter: string | null): string | null {
  if (filter === null) return null
  const parsed = parseFromFilter(filter)
  if (!parsed.ok) {
    throw new AppError(
      'INVALID_FROM_FILTER',
      `"${parsed.invalidPart}" is neither a domain nor an address`,
      {
        field: 'fromFilter',
      },
    )
  }
  return filter.trim() === '' ? null : filter.trim()
}

function opensWith(sealed: string, keys: readonly Buffer[]): boolean {
  try {
    openSecretWithAny(sealed, keys)
    return true
  } catch {
    // Sealed with none of these keys: that is the answer.
    return false
  }
}

export const serverRoutes: FastifyPluginAsyncTypebox<ConfigDeps> = async (app, deps) => {
  const { configStore, configCache, newId, now, secretKey } = deps

  function sealPassword(password: string | null): string | null {
    if (password === null || password === '') return null
    if (secretKey === undefined) {
      throw new AppError(
        'SECRET_KEY_MISSING',
        'set OUTBOUND_SECRET_KEY (32 bytes, base64) to store SMTP passwords',
      )
    }
    return sealSecret(password, secretKey)
  }

  function apply(base: OutgoingServer, change: UpdateServer, at: Date): OutgoingServer {
    if (change.name !== undefined) refuseUnsafeCharacters(change.name, 'name')
    return {
      ...base,
      ...(change.name === undefined ? {} : { name: change.name.trim() }),
      ...(change.host === undefined ? {} : { host: checkHost(change.host) }),
      ...(change.port === undefined ? {} : { port: change.port }),
      ...(change.security === undefined ? {} : { security: change.security }),
      ...(change.username === undefined
        ? {}
        : { username: change.username === '' ? null : change.username }),
      ...(change.password === undefined ? {} : { passwordSealed: sealPassword(change.password) }),
      ...(change.sequence === undefined ? {} : { sequence: change.sequence }),
      ...(change.fromFilter === undefined
        ? {}
        : { fromFilter: checkFromFilter(change.fromFilter) }),
      ...(change.dailyLimit === undefined ? {} : { dailyLimit: change.dailyLimit }),
      ...(change.spf === undefined
        ? {}
        : { spf: change.spf === null || change.spf.trim() === '' ? null : change.spf.trim() }),
      ...(change.maxConnections === undefined ? {} : { maxConnections: change.maxConnections }),
      ...(change.rateLimit === undefined ? {} : { rateLimit: checkRateLimit(change.rateLimit) }),
      // A warm-up counts its days from when its schedule is set.
      ...(change.warmupSchedule === undefined
        ? {}
        : {
            warmupSchedule: checkWarmupSchedule(change.warmupSchedule),
            warmupStartedAt: change.warmupSchedule === null ? null : at.toISOString(),
          }),
      ...(change.failover === undefined ? {} : { failover: change.failover }),
      ...(change.active === undefined ? {} : { active: change.active }),
      updatedAt: at.toISOString(),
    }
  }

  function find(id: string): OutgoingServer {
    const server = configCache.current().servers.find((s) => s.id === id)
    if (server === undefined) throw new AppError('SERVER_NOT_FOUND', `no outgoing server ${id}`)
    return server
  }

  const tags = ['outgoing servers']

  app.get(
    '/v1/servers',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Outgoing servers, in waterfall order (active first)',
        response: { 200: Type.Array(ServerSchema) },
      },
    },
    async () => {
      await configCache.refresh()
      const { servers } = configCache.current()
      const ordered = prepareServers(servers).map((s) => s.server)
      const states = await deps.serverStates.readServerStates(servers.map((s) => s.id))
      // The console shows connections in use beside maxConnections (its servers page).
      const leases = await Promise.all(
        servers.map(async (s) => [s.id, await deps.serverStates.connectionLeases(s.id)] as const),
      )
      const inUse = new Map(leases)
      return [...ordered, ...servers.filter((s) => !s.active)].map((server) => ({
        ...toView(server, states.get(server.id) ?? null),
        connectionsInUse: inUse.get(server.id) ?? 0,
      }))
    },
  )

  app.post(
    '/v1/servers',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Add an outgoing server',
        body: CreateServerSchema,
        response: { 201: ServerSchema, ...errorResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const at = now()
      const blank: OutgoingServer = {
        id: newId('srv'),
        name: '',
        host: '',
        port: 0,
        security: 'starttls',
        username: null,
        passwordSealed: null,
        sequence: 10,
        fromFilter: null,
        dailyLimit: null,
        maxConnections: 5,
        active: true,
        createdAt: at.toISOString(),
        updatedAt: at.toISOString(),
      }
      const server = apply(blank, request.body, at)
      if ((await configStore.createServer(server, MAX_SERVERS)).status === 'limit') {
        throw new AppError('TOO_MANY_OBJECTS', `at most ${MAX_SERVERS} outgoing servers`)
      }
      await configCache.refresh()
      request.log.info({ serverId: server.id }, 'outgoing server added')
      return reply.status(201).send(toView(server, null))
    },
  )

  app.get(
    '/v1/servers/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'An outgoing server',
        params: IdParams,
        response: { 200: ServerSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const server = find(request.params.id)
      const states = await deps.serverStates.readServerStates([server.id])
      return toView(server, states.get(server.id) ?? null)
    },
  )

  app.post(
    '/v1/servers/:id/reset-state',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Clear a throttled or down state: the server is ok again at once',
        params: IdParams,
        response: { 200: ServerSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      await configCache.refresh()
      const server = find(request.params.id)
      await deps.serverStates.resetServerState(server.id)
      request.log.info({ serverId: server.id }, 'server state reset')
      return toView(server, null)
    },
  )

  app.patch(
    '/v1/servers/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change an outgoing server (a password of null removes it)',
        params: IdParams,
        body: UpdateServerSchema,
        response: { 200: ServerSchema, ...errorResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => {
      const result = await configStore.updateServer(request.params.id, (current) =>
        apply(current, request.body, now()),
      )
      if (result.status === 'missing') {
        throw new AppError('SERVER_NOT_FOUND', `no outgoing server ${request.params.id}`)
      }
      await configCache.refresh()
      request.log.info({ serverId: request.params.id }, 'outgoing server changed')
      const states = await deps.serverStates.readServerStates([request.params.id])
      return toView(result.value, states.get(request.params.id) ?? null)
    },
  )

  app.delete(
    '/v1/servers/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Remove an outgoing server (not the dedicated mass server)',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const result = await configStore.deleteServer(request.params.id)
      if (result === 'missing')
        throw new AppError('SERVER_NOT_FOUND', `no outgoing server ${request.params.id}`)
      if (result === 'referenced') {
        throw new AppError(
          'SERVER_IN_USE',
          'this server is the dedicated mass server: change settings.massDedicatedServerId first',
        )
      }
      await configCache.refresh()
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/v1/servers/reseal',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary:
          'Re-encrypt every stored password with the current OUTBOUND_SECRET_KEY (key rotation)',
        description:
          'Passwords sealed with a key listed in OUTBOUND_SECRET_KEY_PREVIOUS are opened and sealed again with ' +
          'OUTBOUND_SECRET_KEY. Once `unreadable` is empty, the previous keys can be removed.',
        response: {
          200: Type.Object({
            resealed: Type.Integer(),
            unreadable: Type.Array(Type.String({ description: 'server ids' })),
          }),
          ...errorResponses(401, 403, 422),
        },
      },
    },
    async (request) => {
      if (secretKey === undefined) {
        throw new AppError('SECRET_KEY_MISSING', 'set OUTBOUND_SECRET_KEY to the new key first')
      }
      await configCache.refresh()
      const keys = [secretKey, ...deps.previousSecretKeys]
      let resealed = 0
      const unreadable: string[] = []
      for (const server of configCache.current().servers) {
        if (server.passwordSealed === null || opensWith(server.passwordSealed, [secretKey])) {
          continue
        }
        if (!opensWith(server.passwordSealed, deps.previousSecretKeys)) {
          unreadable.push(server.id)
          continue
        }
        // Sealed again from what is stored at the time of the write (a PATCH may have come first).
        const result = await configStore.updateServer(server.id, (current) =>
          current.passwordSealed === null || !opensWith(current.passwordSealed, keys)
            ? current
            : {
                ...current,
                passwordSealed: sealSecret(
                  openSecretWithAny(current.passwordSealed, keys),
                  secretKey,
                ),
                updatedAt: now().toISOString(),
              },
        )
        if (result.status === 'ok') resealed += 1
      }
      await configCache.refresh()
      request.log.info({ resealed, unreadable: unreadable.length }, 'passwords resealed')
      return { resealed, unreadable }
    },
  )

  app.post(
    '/v1/servers/:id/test',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary:
          'Test Connection: connect, TLS, AUTH, MAIL FROM, RCPT, DATA 354, then abort without sending',
        params: IdParams,
        response: { 200: TestResultSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      await configCache.refresh()
      const keys = [...(secretKey === undefined ? [] : [secretKey]), ...deps.previousSecretKeys]
      return await testConnection(
        find(request.params.id),
        configCache.current(),
        keys,
        deps.extraCa,
      )
    },
  )
}
