import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import type { Company } from '@outbound/store'
import type { ConfigDeps } from '../../config-deps.js'
import { AppError } from '../../errors.js'
import { refuseUnsafeCharacters } from '../../header-safe.js'
import { errorResponses, IdParams, MAX_COMPANIES, Nullable } from './config-schemas.js'

const CreateCompanySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    aliasDomainId: Type.Optional(
      Nullable(
        Type.String({
          maxLength: 64,
          description: 'null: the alias domain with the lowest sequence',
        }),
      ),
    ),
  },
  { additionalProperties: false },
)
const UpdateCompanySchema = Type.Partial(CreateCompanySchema, { additionalProperties: false })

const CompanySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  aliasDomainId: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

export const companyRoutes: FastifyPluginAsyncTypebox<ConfigDeps> = async (app, deps) => {
  const { configStore, configCache, newId, now } = deps
  const tags = ['companies']

  const unknownAliasDomain = (id: string | null | undefined) =>
    new AppError('UNKNOWN_ALIAS_DOMAIN', `no alias domain ${id ?? ''}`, { field: 'aliasDomainId' })

  function apply(base: Company, change: Static<typeof UpdateCompanySchema>, at: Date): Company {
    // The name is the Reply-To display name of the company's mail.
    if (change.name !== undefined) refuseUnsafeCharacters(change.name, 'name')
    return {
      ...base,
      ...(change.name === undefined ? {} : { name: change.name.trim() }),
      ...(change.aliasDomainId === undefined ? {} : { aliasDomainId: change.aliasDomainId }),
      updatedAt: at.toISOString(),
    }
  }

  function find(id: string): Company {
    const found = configCache.current().companies.find((c) => c.id === id)
    if (found === undefined) throw new AppError('COMPANY_NOT_FOUND', `no company ${id}`)
    return found
  }

  app.get(
    '/v1/companies',
    {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Companies', response: { 200: Type.Array(CompanySchema) } },
    },
    async () => {
      await configCache.refresh()
      return configCache.current().companies
    },
  )

  app.post(
    '/v1/companies',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Add a company (its alias domain picks N, B and the catchall of its mail)',
        body: CreateCompanySchema,
        response: { 201: CompanySchema, ...errorResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const at = now()
      const blank: Company = {
        id: newId('co'),
        name: '',
        aliasDomainId: null,
        createdAt: at.toISOString(),
        updatedAt: at.toISOString(),
      }
      const result = await configStore.createCompany(apply(blank, request.body, at), MAX_COMPANIES)
      switch (result.status) {
        case 'limit':
          throw new AppError('TOO_MANY_OBJECTS', `at most ${MAX_COMPANIES} companies`)
        case 'missing-reference':
          throw unknownAliasDomain(request.body.aliasDomainId)
        case 'ok':
          await configCache.refresh()
          return reply.status(201).send(result.value)
      }
    },
  )

  app.get(
    '/v1/companies/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'A company',
        params: IdParams,
        response: { 200: CompanySchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => find(request.params.id),
  )

  app.patch(
    '/v1/companies/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change a company',
        params: IdParams,
        body: UpdateCompanySchema,
        response: { 200: CompanySchema, ...errorResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => {
      const result = await configStore.updateCompany(request.params.id, (current) =>
        apply(current, request.body, now()),
      )
      switch (result.status) {
        case 'missing':
          throw new AppError('COMPANY_NOT_FOUND', `no company ${request.params.id}`)
        case 'missing-reference':
          throw unknownAliasDomain(request.body.aliasDomainId)
        case 'ok':
          await configCache.refresh()
          return result.value
      }
    },
  )

  app.delete(
    '/v1/companies/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Remove a company',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      if ((await configStore.deleteCompany(request.params.id)) === 'missing') {
        throw new AppError('COMPANY_NOT_FOUND', `no company ${request.params.id}`)
      }
      await configCache.refresh()
      return reply.status(204).send(null)
    },
  )
}
