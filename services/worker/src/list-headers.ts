import { normalizeAddressText, parseMailbox } from '@outbound/address'
import { makeUnsubscribeToken } from '@outbound/secrets'
import type { ClaimedMessage } from '@outbound/store'

/** What the worker needs to make one-click unsubscribe links (PUBLIC_URL, the token key). */
export type ListUnsubscribeSettings = {
  /** PUBLIC_URL without its trailing slash; undefined: no generated links. */
  publicUrl: string | undefined
  /** The token key derived from OUTBOUND_SECRET_KEY; undefined: no generated links. */
  tokenKey: Buffer | undefined
}

/** A header value mailcomposer writes as given: no folding, no encoding. */
export type PreparedHeader = { prepared: true; value: string }

const DEFAULT_LIST = 'default'
const OWN_LIST_ID = /^list-id$/i
const OWN_UNSUBSCRIBE = /^list-unsubscribe(-post)?$/i

/**
 * The list-id label of a list name (RFC 2919: a dot-atom): list names may hold dots anywhere,
 * a dot-atom may not start or end with one or hold two in a row.
 */
function listLabel(list: string): string {
  const label = list.replace(/\.{2,}/g, '.').replace(/^\.+|\.+$/g, '')
  return label === '' ? 'list' : label
}

/**
 * The list headers of a mass message (DOMAIN.md §9): List-Id naming its list under the From
 * domain, and, unless the caller sent its own, RFC 8058's List-Unsubscribe (this service's
 * one-click URL, a token for the one recipient) and List-Unsubscribe-Post. Without PUBLIC_URL or
 * OUTBOUND_SECRET_KEY there is no link to make: the message goes without and its record says why.
 * Transactional mail gets none of it.
 */
export function listHeaders(
  message: Pick<ClaimedMessage, 'id' | 'stream' | 'request' | 'recipients'>,
  headerFrom: string,
  settings: ListUnsubscribeSettings,
): { headers: Record<string, PreparedHeader>; warnings: string[] } {
  if (message.stream !== 'mass') return { headers: {}, warnings: [] }
  const { request } = message
  const list = request.list ?? DEFAULT_LIST
  const domain = parseMailbox(headerFrom)?.domain ?? ''
  const callerHeaders = Object.keys(request.headers)
  const headers: Record<string, PreparedHeader> = {}
  if (!callerHeaders.some((name) => OWN_LIST_ID.test(name))) {
    headers['List-Id'] = { prepared: true, value: `"${list}" <${listLabel(list)}.${domain}>` }
  }
  if (callerHeaders.some((name) => OWN_UNSUBSCRIBE.test(name))) return { headers, warnings: [] }

  const missing =
    settings.publicUrl === undefined
      ? 'PUBLIC_URL is not set'
      : settings.tokenKey === undefined
        ? 'OUTBOUND_SECRET_KEY is not set'
        : message.recipients.length !== 1
          ? `the message has ${message.recipients.length} recipients and one link cannot name each of them`
          : null
  const [recipient] = message.recipients
  if (
    missing !== null ||
    recipient === undefined ||
    settings.publicUrl === undefined ||
    settings.tokenKey === undefined
  ) {
    return {
      headers,
      warnings: [
        `no one-click unsubscribe: ${missing ?? 'no recipient'}. Gmail and Yahoo require RFC 8058 one-click unsubscribe on bulk mail; set it, or send your own List-Unsubscribe and List-Unsubscribe-Post headers`,
      ],
    }
  }
  const token = makeUnsubscribeToken(
    {
      messageId: message.id,
      recipientIndex: 0,
      list,
      domain,
      address: normalizeAddressText(recipient.address),
    },
    settings.tokenKey,
  )
  headers['List-Unsubscribe'] = {
    prepared: true,
    value: `<${settings.publicUrl}/unsubscribe/${token}>`,
  }
  headers['List-Unsubscribe-Post'] = { prepared: true, value: 'List-Unsubscribe=One-Click' }
  return { headers, warnings: [] }
}
