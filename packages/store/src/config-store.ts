import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import type { Cluster, Redis } from 'ioredis'
import { createKeys } from './keys.js'
import {
  type AliasDomainRecord,
  type Company,
  type ConfigSnapshot,
  type ConfigStamp,
  configValidators,
  DEFAULT_SETTINGS,
  type OutgoingServer,
  type Settings,
  type WebhookEndpoint,
} from './config-records.js'
import { CorruptRecordError } from './message-record.js'
import { runScript, script } from './scripts.js'

type ConfigKind = 'servers' | 'alias-domains' | 'companies' | 'webhooks'

/** How often an update re-reads and re-applies its change after a concurrent write won. */
const MAX_WRITE_ATTEMPTS = 50

// Writers that lost a race all read again at once and would race again in step: a random pause,
// growing with the attempts (at most 100 ms), spreads them out.
async function backOff(attempt: number): Promise<void> {
  await delay(Math.random() * Math.min(100, 2 ** attempt))
}

// Every configuration write bumps the version, records its write id and publishes the version, in
// the same step. An update passes the JSON it read and is refused ('conflict') if another write
// came in between; it then reads again and re-applies its change.
// KEYS: kind hash, version, write id, the hash a reference must exist in.
// ARGV: id, expected ('' absent: a creation, '*' anything, else the exact JSON read), next JSON,
//       channel, write id, limit on the object count (0: none), field whose value must be unique
//       ('' none; checked when it changes), referenced id ('' none).
const SAVE_OBJECT = script(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  if current then return 'exists' end
elseif ARGV[2] ~= '*' then
  if not current then return 'missing' end
  if current ~= ARGV[2] then return 'conflict' end
end
local limit = tonumber(ARGV[6])
if not current and limit > 0 and redis.call('HLEN', KEYS[1]) >= limit then return 'limit' end
local value = ARGV[7] ~= '' and cjson.decode(ARGV[3])[ARGV[7]]
if value and not (current and cjson.decode(current)[ARGV[7]] == value) then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[1] and cjson.decode(all[i + 1])[ARGV[7]] == value then return 'taken' end
  end
end
if ARGV[8] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[8]) == 0 then return 'missing-reference' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local version = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[4], version)
return 'ok'
`)

// KEYS: kind hash, version, write id, hash (or string) whose JSON values may reference the id.
// ARGV: id, channel, field, write id. Refuses to delete what another object still references (a
// company's alias domain, the settings' dedicated mass server).
const DELETE_OBJECT = script(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'missing' end
if ARGV[3] ~= '' then
  local holders = {}
  if redis.call('TYPE', KEYS[4]).ok == 'hash' then
    holders = redis.call('HVALS', KEYS[4])
  else
    local value = redis.call('GET', KEYS[4])
    if value then holders = { value } end
  end
  for _, json in ipairs(holders) do
    if cjson.decode(json)[ARGV[3]] == ARGV[1] then return 'referenced' end
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
local version = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[2], version)
return 'deleted'
`)

// KEYS: settings, servers, version, write id.
// ARGV: expected ('' never written, '*' anything, else the exact JSON read), next JSON,
//       dedicated server id ('' for none), channel, write id.
const SAVE_SETTINGS = script(`
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return 'conflict' end
elseif ARGV[1] ~= '*' and current ~= ARGV[1] then
  return 'conflict'
end
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return 'missing-reference' end
redis.call('SET', KEYS[1], ARGV[2])
local version = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[4], ARGV[5])
redis.call('PUBLISH', ARGV[4], version)
return 'ok'
`)

export type PutResult = 'ok' | 'missing-reference'
export type DeleteResult = 'deleted' | 'missing' | 'referenced'
/** Why a configuration write was refused; 'ok' when it was made. */
export type WriteStatus = 'ok' | 'missing' | 'limit' | 'name-taken' | 'missing-reference'
/** A write's outcome: the object as stored, or why nothing was written. */
export type WriteResult<T, Refusal extends Exclude<WriteStatus, 'ok'>> =
  { status: 'ok'; value: T } | (Refusal extends unknown ? { status: Refusal } : never)
/** A change to an object: a pure function of the stored object (it may run more than once). */
export type Change<T> = (current: T) => T

type Checks = { limit?: number; unique?: string; reference?: { kind: ConfigKind; id: string } }
type ScriptStatus = Exclude<WriteStatus, 'name-taken'> | 'taken' | 'conflict' | 'exists'

function parseValues<T>(
  kind: ConfigKind | 'settings',
  values: Record<string, string>,
  validator: { Check(v: unknown): v is T },
): T[] {
  return Object.entries(values).map(([id, json]) => parseValue(kind, id, json, validator))
}

function parseValue<T>(
  kind: ConfigKind | 'settings',
  id: string,
  json: string,
  validator: { Check(v: unknown): v is T },
): T {
  const value: unknown = JSON.parse(json)
  if (!validator.Check(value)) throw new CorruptRecordError(id, kind)
  return value
}

function unexpected(what: string, status: string): Error {
  return new Error(`${what}: unexpected refusal ${status}`)
}

function isScriptStatus(value: unknown): value is ScriptStatus {
  return (
    typeof value === 'string' &&
    ['ok', 'missing', 'limit', 'taken', 'missing-reference', 'conflict', 'exists'].includes(value)
  )
}

/**
 * Outgoing servers, alias domains, companies and settings, kept in Redis under one hash tag. Every
 * write is one atomic step that also checks the limits, the unique alias-domain name and the
 * references, bumps the version and publishes it.
 */
export function createConfigStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)
  const channel = keys.configChannel()

  async function saveObject(
    kind: ConfigKind,
    id: string,
    expected: string,
    value: object,
    checks: Checks,
  ): Promise<ScriptStatus> {
    const result = await runScript(
      redis,
      SAVE_OBJECT,
      [
        keys.config(kind),
        keys.configVersion(),
        keys.configWriteId(),
        keys.config(checks.reference?.kind ?? kind),
      ],
      [
        id,
        expected,
        JSON.stringify(value),
        channel,
        randomUUID(),
        checks.limit ?? 0,
        checks.unique ?? '',
        checks.reference?.id ?? '',
      ],
    )
    if (!isScriptStatus(result)) throw new Error(`writing ${kind} ${id}: unexpected reply`)
    return result
  }

  async function create<T extends { id: string }>(
    kind: ConfigKind,
    value: T,
    checks: Checks,
  ): Promise<WriteResult<T, 'limit' | 'name-taken' | 'missing-reference'>> {
    const status = await saveObject(kind, value.id, '', value, checks)
    switch (status) {
      case 'ok':
        return { status, value }
      case 'limit':
      case 'missing-reference':
        return { status }
      case 'taken':
        return { status: 'name-taken' }
      case 'exists':
      case 'missing':
      case 'conflict':
        throw new Error(`creating ${kind} ${value.id}: the id is taken`)
    }
  }

  async function update<T extends { id: string }>(
    kind: ConfigKind,
    id: string,
    validator: { Check(v: unknown): v is T },
    change: Change<T>,
    checks: (next: T) => Checks,
  ): Promise<WriteResult<T, 'missing' | 'name-taken' | 'missing-reference'>> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
      const json = await redis.hget(keys.config(kind), id)
      if (json === null) return { status: 'missing' }
      const next = change(parseValue(kind, id, json, validator))
      if (next.id !== id) throw new Error(`updating ${kind} ${id}: a change must keep the id`)
      const status = await saveObject(kind, id, json, next, checks(next))
      switch (status) {
        case 'ok':
          return { status, value: next }
        case 'missing':
        case 'missing-reference':
          return { status }
        case 'taken':
          return { status: 'name-taken' }
        case 'conflict':
          await backOff(attempt)
          continue
        case 'limit':
        case 'exists':
          throw new Error(`updating ${kind} ${id}: unexpected reply ${status}`)
      }
    }
    throw new Error(
      `updating ${kind} ${id}: other writes changed it first ${MAX_WRITE_ATTEMPTS} times in a row`,
    )
  }

  async function remove(
    kind: ConfigKind,
    id: string,
    heldBy?: { key: string; field: string },
  ): Promise<DeleteResult> {
    const result = await runScript(
      redis,
      DELETE_OBJECT,
      [
        keys.config(kind),
        keys.configVersion(),
        keys.configWriteId(),
        heldBy?.key ?? keys.config(kind),
      ],
      [id, channel, heldBy?.field ?? '', randomUUID()],
    )
    if (result === 'deleted' || result === 'missing' || result === 'referenced') return result
    throw new Error(`deleting ${kind} ${id}: unexpected reply`)
  }

  async function saveSettings(expected: string, settings: Settings): Promise<ScriptStatus> {
    const result = await runScript(
      redis,
      SAVE_SETTINGS,
      [keys.config('settings'), keys.config('servers'), keys.configVersion(), keys.configWriteId()],
      [
        expected,
        JSON.stringify(settings),
        settings.massDedicatedServerId ?? '',
        channel,
        randomUUID(),
      ],
    )
    if (!isScriptStatus(result)) throw new Error('writing the settings: unexpected reply')
    return result
  }

  const companyChecks = (company: Company): Checks =>
    company.aliasDomainId === null
      ? {}
      : { reference: { kind: 'alias-domains', id: company.aliasDomainId } }

  return {
    /** The pub/sub channel that carries each new configuration version. */
    channel,

    /** Every configuration object at one version (one MULTI). */
    async readSnapshot(): Promise<ConfigSnapshot> {
      const replies = await redis
        .multi()
        .get(keys.configVersion())
        .get(keys.configWriteId())
        .hgetall(keys.config('servers'))
        .hgetall(keys.config('alias-domains'))
        .hgetall(keys.config('companies'))
        .hgetall(keys.config('webhooks'))
        .get(keys.config('settings'))
        .exec()
      if (replies === null) throw new Error('reading the configuration: transaction aborted')
      for (const [err] of replies)
        if (err) throw new Error('reading the configuration', { cause: err })
      const [version, writeId, servers, aliasDomains, companies, webhooks, settings] = replies.map(
        ([, value]) => value,
      )
      const asHash = (value: unknown): Record<string, string> =>
        typeof value === 'object' && value !== null
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]))
          : {}
      const settingsValue: unknown =
        typeof settings === 'string' ? JSON.parse(settings) : DEFAULT_SETTINGS
      if (!configValidators.settings.Check(settingsValue))
        throw new CorruptRecordError('settings', 'settings')
      return {
        version: Number(version ?? 0),
        writeId: typeof writeId === 'string' ? writeId : '',
        servers: parseValues('servers', asHash(servers), configValidators.servers),
        aliasDomains: parseValues(
          'alias-domains',
          asHash(aliasDomains),
          configValidators['alias-domains'],
        ),
        companies: parseValues('companies', asHash(companies), configValidators.companies),
        webhooks: parseValues('webhooks', asHash(webhooks), configValidators.webhooks),
        settings: settingsValue,
      }
    },

    /** The current version number (cheap). */
    async readVersion(): Promise<number> {
      return Number((await redis.get(keys.configVersion())) ?? 0)
    },

    /** The current version and write id (cheap; caches poll it). */
    async readStamp(): Promise<ConfigStamp> {
      const [version, writeId] = await redis.mget(keys.configVersion(), keys.configWriteId())
      return { version: Number(version ?? 0), writeId: writeId ?? '' }
    },

    /** Adds a server; 'limit' when `limit` servers exist. */
    async createServer(
      server: OutgoingServer,
      limit: number,
    ): Promise<WriteResult<OutgoingServer, 'limit'>> {
      const result = await create('servers', server, { limit })
      if (result.status === 'name-taken' || result.status === 'missing-reference')
        throw unexpected(`creating server ${server.id}`, result.status)
      return result
    },
    /** Applies `change` to the stored server atomically (re-applied after a concurrent write). */
    async updateServer(
      id: string,
      change: Change<OutgoingServer>,
    ): Promise<WriteResult<OutgoingServer, 'missing'>> {
      const result = await update('servers', id, configValidators.servers, change, () => ({}))
      if (result.status === 'name-taken' || result.status === 'missing-reference')
        throw unexpected(`updating server ${id}`, result.status)
      return result
    },
    /** Writes a server whole, whatever is stored (seeding; the API creates and updates). */
    async putServer(server: OutgoingServer): Promise<void> {
      await saveObject('servers', server.id, '*', server, {})
    },
    /** Refuses ('referenced') while the settings name it as the dedicated mass server. */
    async deleteServer(id: string): Promise<DeleteResult> {
      return await remove('servers', id, {
        key: keys.config('settings'),
        field: 'massDedicatedServerId',
      })
    },

    /** Adds an alias domain; 'limit' when `limit` exist, 'name-taken' when its name is used. */
    async createAliasDomain(
      aliasDomain: AliasDomainRecord,
      limit: number,
    ): Promise<WriteResult<AliasDomainRecord, 'limit' | 'name-taken'>> {
      const result = await create('alias-domains', aliasDomain, { limit, unique: 'name' })
      if (result.status === 'missing-reference')
        throw unexpected(`creating alias domain ${aliasDomain.id}`, result.status)
      return result
    },
    /** Applies `change` atomically; 'name-taken' when another alias domain has the new name. */
    async updateAliasDomain(
      id: string,
      change: Change<AliasDomainRecord>,
    ): Promise<WriteResult<AliasDomainRecord, 'missing' | 'name-taken'>> {
      const result = await update(
        'alias-domains',
        id,
        configValidators['alias-domains'],
        change,
        () => ({ unique: 'name' }),
      )
      if (result.status === 'missing-reference')
        throw unexpected(`updating alias domain ${id}`, result.status)
      return result
    },
    /** Writes an alias domain whole, whatever is stored (seeding; the API creates and updates). */
    async putAliasDomain(aliasDomain: AliasDomainRecord): Promise<void> {
      await saveObject('alias-domains', aliasDomain.id, '*', aliasDomain, {})
    },
    /** Refuses ('referenced') while a company uses it. */
    async deleteAliasDomain(id: string): Promise<DeleteResult> {
      return await remove('alias-domains', id, {
        key: keys.config('companies'),
        field: 'aliasDomainId',
      })
    },

    /** Adds a company; 'limit' when `limit` exist, 'missing-reference' without its alias domain. */
    async createCompany(
      company: Company,
      limit: number,
    ): Promise<WriteResult<Company, 'limit' | 'missing-reference'>> {
      const result = await create('companies', company, { limit, ...companyChecks(company) })
      if (result.status === 'name-taken')
        throw unexpected(`creating company ${company.id}`, result.status)
      return result
    },
    /** Applies `change` atomically; 'missing-reference' when its alias domain does not exist. */
    async updateCompany(
      id: string,
      change: Change<Company>,
    ): Promise<WriteResult<Company, 'missing' | 'missing-reference'>> {
      const result = await update(
        'companies',
        id,
        configValidators.companies,
        change,
        companyChecks,
      )
      if (result.status === 'name-taken') throw unexpected(`updating company ${id}`, result.status)
      return result
    },
    /** 'missing-reference' when its alias domain does not exist (seeding; the API creates). */
    async putCompany(company: Company): Promise<PutResult> {
      const status = await saveObject('companies', company.id, '*', company, companyChecks(company))
      return status === 'ok' ? 'ok' : 'missing-reference'
    },
    async deleteCompany(id: string): Promise<DeleteResult> {
      return await remove('companies', id)
    },

    /** Adds a webhook endpoint; 'limit' when `limit` exist. */
    async createWebhook(
      endpoint: WebhookEndpoint,
      limit: number,
    ): Promise<WriteResult<WebhookEndpoint, 'limit'>> {
      const result = await create('webhooks', endpoint, { limit })
      if (result.status === 'name-taken' || result.status === 'missing-reference')
        throw unexpected(`creating webhook ${endpoint.id}`, result.status)
      return result
    },
    /** Applies `change` to the stored endpoint atomically (re-applied after a concurrent write). */
    async updateWebhook(
      id: string,
      change: Change<WebhookEndpoint>,
    ): Promise<WriteResult<WebhookEndpoint, 'missing'>> {
      const result = await update('webhooks', id, configValidators.webhooks, change, () => ({}))
      if (result.status === 'name-taken' || result.status === 'missing-reference')
        throw unexpected(`updating webhook ${id}`, result.status)
      return result
    },
    async deleteWebhook(id: string): Promise<DeleteResult> {
      return await remove('webhooks', id)
    },

    /**
     * Applies `change` to the stored settings (the defaults before any write) atomically;
     * 'missing-reference' when the dedicated mass server does not exist.
     */
    async updateSettings(
      change: Change<Settings>,
    ): Promise<WriteResult<Settings, 'missing-reference'>> {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
        const json = await redis.get(keys.config('settings'))
        const current =
          json === null
            ? DEFAULT_SETTINGS
            : parseValue('settings', 'settings', json, configValidators.settings)
        const next = change(current)
        const status = await saveSettings(json ?? '', next)
        if (status === 'ok') return { status, value: next }
        if (status === 'missing-reference') return { status }
        if (status !== 'conflict') throw new Error(`writing the settings: unexpected ${status}`)
        await backOff(attempt)
      }
      throw new Error(
        `writing the settings: other writes changed them first ${MAX_WRITE_ATTEMPTS} times in a row`,
      )
    },
    /** Writes the settings whole; 'missing-reference' when the dedicated mass server does not exist. */
    async putSettings(settings: Settings): Promise<PutResult> {
      return (await saveSettings('*', settings)) === 'ok' ? 'ok' : 'missing-reference'
    },
  }
}

export type ConfigStore = ReturnType<typeof createConfigStore>
