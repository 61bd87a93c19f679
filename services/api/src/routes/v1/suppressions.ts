import { pipeline as pipe, Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parse } from 'csv-parse'
import { stringify } from 'csv-stringify'
import { Type } from 'typebox'
import type { BounceStore, Suppression } from '@outbound/store'
import { AppError } from '../../errors.js'
import { checkSuppressionEntry, type SuppressionEntry } from '../../suppression-entry.js'
import { errorResponses } from './config-schemas.js'

export type SuppressionRoutesOptions = { bounces: BounceStore; now: () => Date }

/** The most rows one import takes (CONTRACT.md, Bulk mail). */
export const MAX_IMPORT_ROWS = 100_000
/** An import's body bound: 100,000 rows of a long address, a long reason and a list fit. */
const MAX_IMPORT_BYTES = 64 * 1024 * 1024
/** Row problems an import answer lists (the count of refused rows says how many there were). */
const MAX_IMPORT_ERRORS = 20
/** Entries written per Redis step while importing. */
const IMPORT_BATCH = 1000

const SuppressionSchema = Type.Object({
  address: Type.String({ description: 'an address in comparison form, or `*@domain`' }),
  reason: Type.String(),
  source: Type.Union([
    Type.Literal('bounce'),
    Type.Literal('manual'),
    Type.Literal('complaint'),
    Type.Literal('unsubscribe'),
    Type.Literal('import'),
  ]),
  list: Type.Union([Type.String(), Type.Null()], {
    description: 'the list it stops (mass mail of that list only); null: every mail',
  }),
  createdAt: Type.String(),
})

const ImportResultSchema = Type.Object({
  added: Type.Integer(),
  existing: Type.Integer({ description: 'rows already on the list (the first entry is kept)' }),
  refused: Type.Integer(),
  errors: Type.Array(Type.Object({ line: Type.Integer(), message: Type.String() }), {
    description: `the first ${MAX_IMPORT_ERRORS} refused rows, with their line numbers`,
  }),
})

const CSV_COLUMNS = ['address', 'reason', 'list', 'source', 'createdAt'] as const

const view = (suppression: Suppression) => ({ ...suppression, list: suppression.list ?? null })

/** Counts the bytes that pass, and fails the stream once they exceed `limit`. */
function byteBound(limit: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > limit) {
        done(
          new AppError('PAYLOAD_TOO_LARGE', `the CSV is larger than ${limit} bytes`, {
            field: 'body',
            limitBytes: limit,
          }),
        )
      } else done(null, chunk)
    },
  })
}

type ParsedImport = {
  entries: SuppressionEntry[]
  refused: number
  errors: { line: number; message: string }[]
}

/**
 * Reads an import's CSV as it arrives (never the whole body as one string): `address,reason,list`
 * per row, a header row optional, a UTF-8 BOM and blank lines ignored. A row that fails a rule is
 * refused with its line number; a CSV that cannot be read (an unclosed quote) or has too many rows
 * is refused whole, before anything is written.
 */
async function readImport(body: Readable): Promise<ParsedImport> {
  const parsed: ParsedImport = { entries: [], refused: 0, errors: [] }
  let rows = 0
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: true,
    info: true,
    // A reason longer than this is refused row by row; a field this long is no row at all.
    max_record_size: 64 * 1024,
  })
  const collect = new Transform({
    objectMode: true,
    transform(record: { record: string[]; info: { lines: number } }, _encoding, done) {
      const [address = '', reason = '', list = ''] = record.record
      const line = record.info.lines
      if (line === 1 && address.toLowerCase() === 'address') return done()
      rows += 1
      if (rows > MAX_IMPORT_ROWS) {
        return done(
          new AppError('PAYLOAD_TOO_LARGE', `an import takes at most ${MAX_IMPORT_ROWS} rows`, {
            field: 'body',
            limitRows: MAX_IMPORT_ROWS,
          }),
        )
      }
      const checked = checkSuppressionEntry(
        address,
        reason === '' ? null : reason,
        list === '' ? null : list,
      )
      if (checked.ok) parsed.entries.push(checked.entry)
      else {
        parsed.refused += 1
        if (parsed.errors.length < MAX_IMPORT_ERRORS)
          parsed.errors.push({ line, message: checked.problem.message })
      }
      done()
    },
  })
  try {
    await pipeline(body, byteBound(MAX_IMPORT_BYTES), parser, collect)
  } catch (err) {
    if (err instanceof AppError) throw err
    // csv-parse names the line of a malformed row (an unclosed quote, a record too long).
    const message = err instanceof Error ? err.message : String(err)
    throw new AppError('INVALID_CSV', `the CSV cannot be read: ${message}`, { field: 'body' })
  }
  return parsed
}

export const suppressionRoutes: FastifyPluginAsyncTypebox<SuppressionRoutesOptions> = async (
  app,
  options,
) => {
  const tags = ['bounces and suppressions']

  // The import reads its body as a stream; this parser exists in this plugin's scope only.
  app.addContentTypeParser('text/csv', (_request, payload, done) => done(null, payload))

  app.get(
    '/v1/suppressions',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'Addresses that are not mailed again, newest first (or every one as CSV)',
        description:
          '`format=csv` answers `text/csv` with every entry (columns address, reason, list, ' +
          'source, createdAt; streamed, in no particular order; `limit` and `offset` do not ' +
          'apply), which POST /v1/suppressions/import takes back.',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0 })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
        }),
        response: {
          200: {
            description: 'the entries (JSON), or every entry (CSV)',
            content: {
              'application/json': { schema: Type.Array(SuppressionSchema) },
              'text/csv': {
                schema: Type.String({ description: 'address,reason,list,source,createdAt' }),
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      if (request.query.format === 'csv') {
        const rows = Readable.from(
          (async function* () {
            for await (const page of options.bounces.scanSuppressions()) {
              for (const entry of page) yield view(entry)
            }
          })(),
        )
        // stream.pipeline, not .pipe(): a Redis error mid-scan must end the response, not the process.
        const csv = pipe(rows, stringify({ header: true, columns: [...CSV_COLUMNS] }), () => {
          // The error (if any) has destroyed the response: the client sees a cut transfer.
        })
        return (
          reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', 'attachment; filename="suppressions.csv"')
            // Fastify streams a stream as is; the route's types know only the schema's body types.
            .send(csv as unknown as string)
        )
      }
      const page = await options.bounces.listSuppressions(
        request.query.limit ?? 1000,
        request.query.offset ?? 0,
      )
      return page.map(view)
    },
  )

  app.post(
    '/v1/suppressions',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Stop mailing an address (or a whole domain), for every mail or for one list',
        body: Type.Object(
          {
            address: Type.String({
              maxLength: 320,
              description: 'one bare address, or `*@domain` for every address at the domain',
            }),
            reason: Type.Optional(Type.String({ maxLength: 500 })),
            list: Type.Optional(
              Type.Union([Type.String({ maxLength: 200 }), Type.Null()], {
                description:
                  'stop only mass mail of this list (null or absent: every mail, transactional too)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: SuppressionSchema,
          200: SuppressionSchema,
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const checked = checkSuppressionEntry(
        request.body.address,
        request.body.reason ?? null,
        request.body.list ?? null,
      )
      if (!checked.ok) {
        throw new AppError(
          checked.problem.field === 'address'
            ? 'INVALID_ADDRESS'
            : checked.problem.field === 'list'
              ? 'INVALID_LIST'
              : 'VALIDATION_FAILED',
          checked.problem.message,
          { field: checked.problem.field },
        )
      }
      const { entry } = checked
      const suppression: Suppression = {
        address: entry.address,
        reason: entry.reason ?? 'added by hand',
        source: 'manual',
        createdAt: options.now().toISOString(),
        list: entry.list,
      }
      const added = await options.bounces.addSuppression(suppression)
      const stored = added
        ? suppression
        : ((await options.bounces.getSuppression(entry.address, entry.list)) ?? suppression)
      return reply.status(added ? 201 : 200).send(view(stored))
    },
  )

  app.post(
    '/v1/suppressions/import',
    {
      config: { scope: 'admin' },
      // The body is read as a stream and bounded by MAX_IMPORT_BYTES as it is read.
      bodyLimit: MAX_IMPORT_BYTES,
      schema: {
        tags,
        summary: `Add up to ${MAX_IMPORT_ROWS} suppressions from a CSV`,
        description:
          'Body `text/csv`, one entry per row: `address,reason,list` (reason and list may be ' +
          'empty: "imported", every mail). A header row is optional. Rows that break a rule are ' +
          'refused and counted, the rest added; entries already there keep their first reason. ' +
          `More than ${MAX_IMPORT_ROWS} rows or ${MAX_IMPORT_BYTES} bytes: 413, nothing added. ` +
          'A CSV that cannot be read: 400 INVALID_CSV, nothing added.',
        consumes: ['text/csv'],
        response: { 200: ImportResultSchema, ...errorResponses(400, 401, 403, 413, 415) },
      },
    },
    async (request) => {
      if (!(request.body instanceof Readable)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the import as text/csv', {
          field: 'content-type',
        })
      }
      const parsed = await readImport(request.body)
      const createdAt = options.now().toISOString()
      let added = 0
      for (let i = 0; i < parsed.entries.length; i += IMPORT_BATCH) {
        const batch = parsed.entries.slice(i, i + IMPORT_BATCH).map((entry): Suppression => ({
          address: entry.address,
          reason: entry.reason ?? 'imported',
          source: 'import',
          createdAt,
          list: entry.list,
        }))
        added += (await options.bounces.addSuppressions(batch)).filter(Boolean).length
      }
      return {
        added,
        existing: parsed.entries.length - added,
        refused: parsed.refused,
        errors: parsed.errors,
      }
    },
  )

  app.delete(
    '/v1/suppressions/:address',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Mail an address (or `*@domain`) again, for every mail or for one list',
        params: Type.Object({ address: Type.String({ maxLength: 320 }) }),
        querystring: Type.Object({
          list: Type.Optional(
            Type.String({
              maxLength: 200,
              description: 'the list entry to remove (absent: the every-mail entry)',
            }),
          ),
        }),
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const list = request.query.list ?? null
      const checked = checkSuppressionEntry(request.params.address, null, list)
      const removed =
        checked.ok &&
        (await options.bounces.removeSuppression(checked.entry.address, checked.entry.list))
      if (!removed) {
        throw new AppError(
          'SUPPRESSION_NOT_FOUND',
          `${request.params.address} is not suppressed${list === null ? '' : ` for the list ${list}`}`,
        )
      }
      return reply.status(204).send(null)
    },
  )
}
