import type { Cluster, Redis } from 'ioredis'
import { createKeys } from './keys.js'
import {
  type AliasDomainRecord,
  type Company,
  type ConfigSnapshot,
  configValidators,
  DEFAULT_SETTINGS,
  type OutgoingServer,
  type Settings,
} from './config-records.js'
import { CorruptRecordError } from './message-record.js'
import { runScript, script } from './scripts.js'

type ConfigKind = 'servers' | 'alias-domains' | 'companies'

// Every configuration write bumps the version and publishes it, in the same step.
// KEYS: kind hash, version, reference hash. ARGV: id, json, channel, referenced id ('' for none).
const PUT_OBJECT = script(`
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[3], ARGV[4]) == 0 then return 'missing-reference' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], version)
return 'ok'
`)

// KEYS: kind hash, version, hash whose JSON values may reference the id. ARGV: id, channel, field.
// Refuses to delete what another object still references (a company's alias domain, the
// settings' dedicated mass server).
const DELETE_OBJECT = script(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'missing' end
if ARGV[3] ~= '' then
  local holders = {}
  if redis.call('TYPE', KEYS[3]).ok == 'hash' then
    holders = redis.call('HVALS', KEYS[3])
  else
    local value = redis.call('GET', KEYS[3])
    if value then holders = { value } end
  end
  for _, json in ipairs(holders) do
    if cjson.decode(json)[ARGV[3]] == ARGV[1] then return 'referenced' end
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], version)
return 'deleted'
`)

// KEYS: settings, servers, version. ARGV: json, dedicated server id ('' for none), channel.
const PUT_SETTINGS = script(`
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return 'missing-reference' end
redis.call('SET', KEYS[1], ARGV[1])
local version = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[3], version)
return 'ok'
`)

export type PutResult = 'ok' | 'missing-reference'
export type DeleteResult = 'deleted' | 'missing' | 'referenced'

function parseValues<T>(
  kind: ConfigKind | 'settings',
  values: Record<string, string>,
  validator: { Check(v: unknown): v is T },
): T[] {
  return Object.entries(values).map(([id, json]) => {
    const value: unknown = JSON.parse(json)
    if (!validator.Check(value)) throw new CorruptRecordError(id, kind)
    return value
  })
}

/** Outgoing servers, alias domains, companies and settings, kept in Redis under one hash tag. */
export function createConfigStore(redis: Redis | Cluster, prefix = 'outbound') {
  const keys = createKeys(prefix)
  const channel = keys.configChannel()

  async function put(
    kind: ConfigKind,
    id: string,
    value: object,
    reference?: { kind: ConfigKind; id: string | null },
  ) {
    const result = await runScript(
      redis,
      PUT_OBJECT,
      [keys.config(kind), keys.configVersion(), keys.config(reference?.kind ?? kind)],
      [id, JSON.stringify(value), channel, reference?.id ?? ''],
    )
    return result === 'ok' ? 'ok' : 'missing-reference'
  }

  async function remove(
    kind: ConfigKind,
    id: string,
    heldBy?: { key: string; field: string },
  ): Promise<DeleteResult> {
    const result = await runScript(
      redis,
      DELETE_OBJECT,
      [keys.config(kind), keys.configVersion(), heldBy?.key ?? keys.config(kind)],
      [id, channel, heldBy?.field ?? ''],
    )
    if (result === 'deleted' || result === 'missing' || result === 'referenced') return result
    throw new Error(`deleting ${kind} ${id}: unexpected reply`)
  }

  return {
    /** The pub/sub channel that carries each new configuration version. */
    channel,

    /** Every configuration object at one version (one MULTI). */
    async readSnapshot(): Promise<ConfigSnapshot> {
      const replies = await redis
        .multi()
        .get(keys.configVersion())
        .hgetall(keys.config('servers'))
        .hgetall(keys.config('alias-domains'))
        .hgetall(keys.config('companies'))
        .get(keys.config('settings'))
        .exec()
      if (replies === null) throw new Error('reading the configuration: transaction aborted')
      for (const [err] of replies)
        if (err) throw new Error('reading the configuration', { cause: err })
      const [version, servers, aliasDomains, companies, settings] = replies.map(
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
        servers: parseValues('servers', asHash(servers), configValidators.servers),
        aliasDomains: parseValues(
          'alias-domains',
          asHash(aliasDomains),
          configValidators['alias-domains'],
        ),
        companies: parseValues('companies', asHash(companies), configValidators.companies),
        settings: settingsValue,
      }
    },

    /** The current version number (cheap; caches poll it). */
    async readVersion(): Promise<number> {
      return Number((await redis.get(keys.configVersion())) ?? 0)
    },

    async putServer(server: OutgoingServer): Promise<void> {
      await put('servers', server.id, server)
    },
    /** Refuses ('referenced') while the settings name it as the dedicated mass server. */
    async deleteServer(id: string): Promise<DeleteResult> {
      return await remove('servers', id, {
        key: keys.config('settings'),
        field: 'massDedicatedServerId',
      })
    },
    async putAliasDomain(aliasDomain: AliasDomainRecord): Promise<void> {
      await put('alias-domains', aliasDomain.id, aliasDomain)
    },
    /** Refuses ('referenced') while a company uses it. */
    async deleteAliasDomain(id: string): Promise<DeleteResult> {
      return await remove('alias-domains', id, {
        key: keys.config('companies'),
        field: 'aliasDomainId',
      })
    },
    /** 'missing-reference' when its alias domain does not exist. */
    async putCompany(company: Company): Promise<PutResult> {
      return await put('companies', company.id, company, {
        kind: 'alias-domains',
        id: company.aliasDomainId,
      })
    },
    async deleteCompany(id: string): Promise<DeleteResult> {
      return await remove('companies', id)
    },
    /** 'missing-reference' when the dedicated mass server does not exist. */
    async putSettings(settings: Settings): Promise<PutResult> {
      const result = await runScript(
        redis,
        PUT_SETTINGS,
        [keys.config('settings'), keys.config('servers'), keys.configVersion()],
        [JSON.stringify(settings), settings.massDedicatedServerId ?? '', channel],
      )
      return result === 'ok' ? 'ok' : 'missing-reference'
    },
  }
}

export type ConfigStore = ReturnType<typeof createConfigStore>
