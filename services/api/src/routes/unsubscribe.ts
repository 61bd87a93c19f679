import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { recipientEvent } from '@outbound/jobs'
import { openUnsubscribeToken } from '@outbound/secrets'
import { type MessageStore, messageSummary, type UnsubscribeStore } from '@outbound/store'
import { confirmPage, donePage, notFoundPage } from './unsubscribe-pages.js'
import { ErrorSchema } from './v1/email-schemas.js'

export type UnsubscribeRoutesOptions = {
  /** Keys that open tokens: the current one first, then those being rotated out; empty: none. */
  tokenKeys: readonly Buffer[]
  unsubscribes: UnsubscribeStore
  store: MessageStore
  newEventId: () => string
  now: () => Date
}

/**
 * Requests per minute per client address. RFC 8058's one-click POSTs come from the mailbox
 * provider's own servers (a handful of addresses for millions of people), so POST gets a wide
 * bound: a bad token costs one AES-GCM check and a repeat changes nothing. The confirmation page
 * (GET) is for people and link scanners, and gets a narrower one.
 */
const PAGES_PER_MINUTE = 120
const ONE_CLICKS_PER_MINUTE = 3000
// RFC 8058's body is `List-Unsubscribe=One-Click`; the page's form sends the same.
const MAX_FORM_BYTES = 4096

const TokenParams = Type.Object({ token: Type.String() })
const Html = Type.String({ description: 'an HTML page (text/html)' })

function sendPage(reply: FastifyReply, status: number, html: string) {
  return (
    reply
      .status(status)
      .type('text/html; charset=utf-8')
      // No script, no outside resource, no framing, no referrer: the page only posts to itself.
      .header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      )
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      .send(html)
  )
}

/**
 * One-click unsubscribe (RFC 8058; CONTRACT.md, Bulk mail): `GET /unsubscribe/:token` shows a
 * page with one button and never unsubscribes (link scanners follow GETs); `POST` suppresses the
 * token's recipient for its list and emits `email.unsubscribed`, once. No API key: the token is
 * the credential, and it opens only under this service's key. Anything else answers the same 404
 * page, which says nothing about any recipient.
 */
export const unsubscribeRoutes: FastifyPluginAsyncTypebox<UnsubscribeRoutesOptions> = async (
  app,
  options,
) => {
  const pageLimit = { max: PAGES_PER_MINUTE, timeWindow: 60_000 }
  const oneClickLimit = { max: ONE_CLICKS_PER_MINUTE, timeWindow: 60_000 }
  // Form bodies are read (bounded) and ignored: the token says everything.
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data']) {
    app.addContentTypeParser(
      type,
      { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, body),
    )
  }
  const open = (token: string) => openUnsubscribeToken(token, options.tokenKeys)

  app.get(
    '/unsubscribe/:token',
    {
      // The token is the credential and sits in the URL: no info-level request lines (STYLE §7).
      logLevel: 'warn',
      config: { rateLimit: pageLimit },
      schema: {
        tags: ['unsubscribe'],
        summary:
          'The one-click unsubscribe page (no key): one button that POSTs; never unsubscribes',
        params: TokenParams,
        produces: ['text/html'],
        response: { 200: Html, 404: Html, 429: ErrorSchema },
      },
    },
    async (request, reply) => {
      const subject = open(request.params.token)
      if (subject === null) return sendPage(reply, 404, notFoundPage())
      return sendPage(reply, 200, confirmPage(subject.list, subject.domain))
    },
  )

  app.post(
    '/unsubscribe/:token',
    {
      logLevel: 'warn',
      config: { rateLimit: oneClickLimit },
      bodyLimit: MAX_FORM_BYTES,
      schema: {
        tags: ['unsubscribe'],
        summary:
          "RFC 8058 one-click unsubscribe (no key): suppresses the link's recipient for its list, once",
        description:
          'Takes the body mailbox providers send (`List-Unsubscribe=One-Click`, form-encoded) and ' +
          "the page's form. The first POST suppresses the recipient for the list (reason " +
          '`unsubscribed`) and emits `email.unsubscribed`; a repeat answers the same and changes ' +
          'nothing. A forged, truncated or unknown token: 404, nothing changes.',
        params: TokenParams,
        consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'],
        produces: ['text/html'],
        response: { 200: Html, 404: Html, 429: ErrorSchema },
      },
    },
    async (request, reply) => {
      const subject = open(request.params.token)
      if (subject === null) return sendPage(reply, 404, notFoundPage())
      const at = options.now()
      const record = await options.store.getMessage(subject.messageId)
      // Message records are kept 30 days; a link is honoured after that too, with less to say.
      const summary =
        record === null
          ? {
              messageId: subject.messageId,
              stream: 'mass',
              serverId: null,
              reference: null,
              tags: [],
              metadata: {},
              subject: '',
              to: [],
            }
          : messageSummary(record, record.serverId)
      const event = recipientEvent(
        options.newEventId(),
        'email.unsubscribed',
        at,
        summary,
        record?.status ?? 'sent',
        {
          recipient: subject.address,
          kind: null,
          reason: `unsubscribed from the list ${subject.list}`,
          smtpCode: null,
          enhancedCode: null,
          diagnostic: null,
          source: 'one-click',
        },
      )
      const outcome = await options.unsubscribes.unsubscribe({
        messageId: subject.messageId,
        recipientIndex: subject.recipientIndex,
        address: subject.address,
        list: subject.list,
        at,
        event: { ...event, data: { ...event.data, list: subject.list } },
      })
      request.log.info({ messageId: subject.messageId, list: subject.list, outcome }, 'unsubscribe')
      return sendPage(reply, 200, donePage(subject.list, subject.domain))
    },
  )
}
