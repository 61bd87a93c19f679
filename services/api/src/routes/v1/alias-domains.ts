import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import {
  aliasAddresses,
  sanitizeAliasDomainName,
  sanitizeAliasLocalPart,
  sanitizeDefaultFrom,
} from '@outbound/rewrite'
import { DKIM_ALGORITHMS, type AliasDomainRecord, type DkimKey } from '@outbound/store'
import { sealSecret } from '@outbound/secrets'
import { dkimDnsRecord, generateDkimKey } from '../../dkim-keys.js'
import type { ConfigDeps } from '../../config-deps.js'
import { AppError } from '../../errors.js'
import { refuseUnsafeCharacters } from '../../header-safe.js'
import { errorResponses, IdParams, MAX_ALIAS_DOMAINS, Nullable } from './config-schemas.js'
import { checkAliasDomain } from '../../dns-check.js'

const CreateAliasDomainSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'the domain, e.g. shop.example (IDN allowed)',
    }),
    sequence: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
    bounceAlias: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    catchallAlias: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    defaultFrom: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 254,
        description: 'a local part (notifications) or a full address',
      }),
    ),
  },
  { additionalProperties: false },
)
const UpdateAliasDomainSchema = Type.Partial(CreateAliasDomainSchema, {
  additionalProperties: false,
})

const DkimViewSchema = Type.Object({
  selector: Type.String(),
  algorithm: Type.Enum(DKIM_ALGORITHMS),
  name: Type.String({ description: 'the TXT record name to publish' }),
  value: Type.String({ description: 'the TXT record value' }),
  zoneLine: Type.String({
    description: 'the same as a zone-file line, split into 255-byte strings',
  }),
  createdAt: Type.String(),
})

const AliasDomainSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sequence: Type.Integer(),
  bounceAlias: Type.String(),
  catchallAlias: Type.String(),
  defaultFrom: Type.String(),
  notificationAddress: Type.String({ description: 'N: the address rewritten mail goes out from' }),
  bounceAddress: Type.String({ description: 'B: the MAIL FROM that brings bounces back' }),
  catchallAddress: Type.String(),
  dkim: Type.Array(DkimViewSchema, {
    description: 'DKIM keys (the private keys are never returned)',
  }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

function dkimView(key: DkimKey, domain: string) {
  return {
    selector: key.selector,
    algorithm: key.algorithm,
    ...dkimDnsRecord(key, domain),
    createdAt: key.createdAt,
  }
}

function toView({ dkimKeys = [], ...aliasDomain }: AliasDomainRecord) {
  const addresses = aliasAddresses(aliasDomain)
  return {
    ...aliasDomain,
    dkim: dkimKeys.map((key) => dkimView(key, addresses.domain)),
    notificationAddress: addresses.notification,
    bounceAddress: addresses.bounce,
    catchallAddress: addresses.catchall,
  }
}

function alias(value: string, field: string): string {
  refuseUnsafeCharacters(value, field, 'INVALID_ALIAS')
  const sanitized = sanitizeAliasLocalPart(value)
  if (sanitized === null)
    throw new AppError('INVALID_ALIAS', `${field} is empty once sanitised`, { field })
  return sanitized
}

export const aliasDomainRoutes: FastifyPluginAsyncTypebox<ConfigDeps> = async (app, deps) => {
  const { configStore, configCache, newId, now } = deps
  const tags = ['alias domains']

  function apply(
    base: AliasDomainRecord,
    change: Static<typeof UpdateAliasDomainSchema>,
    at: Date,
  ): AliasDomainRecord {
    let name = base.name
    if (change.name !== undefined) {
      refuseUnsafeCharacters(change.name, 'name', 'INVALID_DOMAIN')
      const sanitized = sanitizeAliasDomainName(change.name)
      if (sanitized === null)
        throw new AppError('INVALID_DOMAIN', `"${change.name}" is not a domain name`, {
          field: 'name',
        })
      name = sanitized
    }
    let defaultFrom = base.defaultFrom
    if (change.defaultFrom !== undefined) {
      refuseUnsafeCharacters(change.defaultFrom, 'defaultFrom', 'INVALID_ALIAS')
      const sanitized = sanitizeDefaultFrom(change.defaultFrom)
      if (sanitized === null) {
        throw new AppError('INVALID_ALIAS', 'defaultFrom must be a local part or a bare address', {
          field: 'defaultFrom',
        })
      }
      defaultFrom = sanitized
    }
    return {
      ...base,
      name,
      defaultFrom,
      ...(change.sequence === undefined ? {} : { sequence: change.sequence }),
      ...(change.bounceAlias === undefined
        ? {}
        : { bounceAlias: alias(change.bounceAlias, 'bounceAlias') }),
      ...(change.catchallAlias === undefined
        ? {}
        : { catchallAlias: alias(change.catchallAlias, 'catchallAlias') }),
      updatedAt: at.toISOString(),
    }
  }

  const nameTaken = (name: string) =>
    new AppError('ALIAS_DOMAIN_EXISTS', `an alias domain named ${name} exists`)
  const notFound = (id: string) => new AppError('ALIAS_DOMAIN_NOT_FOUND', `no alias domain ${id}`)

  function find(id: string): AliasDomainRecord {
    const found = configCache.current().aliasDomains.find((d) => d.id === id)
    if (found === undefined) throw notFound(id)
    return found
  }

  app.get(
    '/v1/alias-domains',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Alias domains, lowest sequence first',
        response: { 200: Type.Array(AliasDomainSchema) },
      },
    },
    async () => {
      await configCache.refresh()
      return [...configCache.current().aliasDomains]
        .sort((a, b) => a.sequence - b.sequence || (a.name < b.name ? -1 : 1))
        .map(toView)
    },
  )

  app.post(
    '/v1/alias-domains',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Add an alias domain',
        body: CreateAliasDomainSchema,
        response: { 201: AliasDomainSchema, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const at = now()
      const blank: AliasDomainRecord = {
        id: newId('ad'),
        name: '',
        sequence: 10,
        bounceAlias: 'bounce',
        catchallAlias: 'catchall',
        defaultFrom: 'notifications',
        createdAt: at.toISOString(),
        updatedAt: at.toISOString(),
      }
      const aliasDomain = apply(blank, request.body, at)
      const result = await configStore.createAliasDomain(aliasDomain, MAX_ALIAS_DOMAINS)
      switch (result.status) {
        case 'limit':
          throw new AppError('TOO_MANY_OBJECTS', `at most ${MAX_ALIAS_DOMAINS} alias domains`)
        case 'name-taken':
          throw nameTaken(aliasDomain.name)
        case 'ok':
          await configCache.refresh()
          return reply.status(201).send(toView(result.value))
      }
    },
  )

  app.get(
    '/v1/alias-domains/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'An alias domain',
        params: IdParams,
        response: { 200: AliasDomainSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => toView(find(request.params.id)),
  )

  app.patch(
    '/v1/alias-domains/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change an alias domain',
        params: IdParams,
        body: UpdateAliasDomainSchema,
        response: { 200: AliasDomainSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { id } = request.params
      const result = await configStore.updateAliasDomain(id, (current) =>
        apply(current, request.body, now()),
      )
      switch (result.status) {
        case 'missing':
          throw notFound(id)
        case 'name-taken':
          throw nameTaken(sanitizeAliasDomainName(request.body.name ?? '') ?? '')
        case 'ok':
          await configCache.refresh()
          return toView(result.value)
      }
    },
  )

  app.post(
    '/v1/alias-domains/:id/dkim',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Create a DKIM key; answers the DNS record to publish (never the private key)',
        description:
          'Every key of an alias domain signs its mail: to rotate, add a key under a new selector, publish it, ' +
          'then remove the old one. An Ed25519 key signs beside an RSA one (receivers that do not know Ed25519 ' +
          'check the RSA signature).',
        params: IdParams,
        body: Type.Object(
          {
            selector: Type.Optional(Type.String({ maxLength: 63, default: 'outbound' })),
            algorithm: Type.Optional(Type.Enum(DKIM_ALGORITHMS, { default: 'rsa' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: DkimViewSchema, ...errorResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const { secretKey } = deps
      if (secretKey === undefined) {
        throw new AppError(
          'SECRET_KEY_MISSING',
          'set OUTBOUND_SECRET_KEY (32 bytes, base64) to store DKIM keys',
        )
      }
      const selector = request.body.selector ?? 'outbound'
      if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(selector)) {
        throw new AppError('INVALID_SELECTOR', `"${selector}" is not a DKIM selector`, {
          field: 'selector',
        })
      }
      const refuseTakenSelector = (aliasDomain: AliasDomainRecord) => {
        if ((aliasDomain.dkimKeys ?? []).some((key) => key.selector === selector)) {
          throw new AppError(
            'DKIM_SELECTOR_EXISTS',
            `${aliasDomain.name} has a key under the selector ${selector}`,
          )
        }
      }
      // Answered before the (slow) key generation; the write checks again.
      await configCache.refresh()
      refuseTakenSelector(find(request.params.id))
      const algorithm = request.body.algorithm ?? 'rsa'
      const generated = generateDkimKey(algorithm)
      const at = now()
      const key: DkimKey = {
        selector,
        algorithm,
        privateKeySealed: sealSecret(generated.privateKeyPem, secretKey),
        publicKey: generated.publicKey,
        createdAt: at.toISOString(),
      }
      const result = await configStore.updateAliasDomain(request.params.id, (current) => {
        refuseTakenSelector(current)
        return {
          ...current,
          dkimKeys: [...(current.dkimKeys ?? []), key],
          updatedAt: at.toISOString(),
        }
      })
      switch (result.status) {
        case 'missing':
          throw notFound(request.params.id)
        case 'name-taken':
          throw new Error('the alias domain name did not change, yet it was found taken')
        case 'ok':
          break
      }
      await configCache.refresh()
      request.log.info(
        { aliasDomainId: request.params.id, selector, algorithm },
        'DKIM key created',
      )
      return reply.status(201).send(dkimView(key, aliasAddresses(result.value).domain))
    },
  )

  app.get(
    '/v1/alias-domains/:id/dns',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: "Check the alias domain's DNS: SPF, DKIM, DMARC and the bounce domain",
        description: 'Each finding is ok, warn or error, with what to do about it.',
        params: IdParams,
        response: {
          200: Type.Object({
            domain: Type.String(),
            findings: Type.Array(
              Type.Object({
                check: Type.String({ description: 'spf, dkim, dmarc or bounce' }),
                status: Type.String({ description: 'ok, warn or error' }),
                message: Type.String(),
                fix: Nullable(Type.String()),
              }),
            ),
          }),
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request) => {
      await configCache.refresh()
      return await checkAliasDomain(
        find(request.params.id),
        configCache.current().servers,
        deps.resolveTxt,
      )
    },
  )

  app.delete(
    '/v1/alias-domains/:id/dkim/:selector',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Remove a DKIM key (its mail is no longer signed with it)',
        params: Type.Object({
          id: Type.String({ maxLength: 64 }),
          selector: Type.String({ maxLength: 63 }),
        }),
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { id, selector } = request.params
      const result = await configStore.updateAliasDomain(id, (current) => {
        const keys = current.dkimKeys ?? []
        if (!keys.some((key) => key.selector === selector)) {
          throw new AppError('DKIM_KEY_NOT_FOUND', `${current.name} has no key under ${selector}`)
        }
        return {
          ...current,
          dkimKeys: keys.filter((key) => key.selector !== selector),
          updatedAt: now().toISOString(),
        }
      })
      switch (result.status) {
        case 'missing':
          throw notFound(id)
        case 'name-taken':
          throw new Error('the alias domain name did not change, yet it was found taken')
        case 'ok':
          break
      }
      await configCache.refresh()
      return reply.status(204).send(null)
    },
  )

  app.delete(
    '/v1/alias-domains/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Remove an alias domain no company uses',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const result = await configStore.deleteAliasDomain(request.params.id)
      if (result === 'missing') throw notFound(request.params.id)
      if (result === 'referenced')
        throw new AppError('ALIAS_DOMAIN_IN_USE', 'a company uses this alias domain')
      await configCache.refresh()
      return reply.status(204).send(null)
    },
  )
}
