import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { isPublicAddress } from './address-policy.js'

/** The most characters a webhook URL may have. */
export const MAX_WEBHOOK_URL_CHARS = 2048

/** Every address a host name resolves to (the system resolver by default). */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>

/** Where one request goes: the URL and the very address that was checked. */
export type WebhookTarget = { url: URL; address: string; family: 4 | 6 }

export type ResolveResult =
  | { ok: true; target: WebhookTarget }
  | { ok: false; reason: 'not-allowed' | 'unresolved'; detail: string }

const systemLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

/** The URL when it is an `http://` or `https://` URL of at most 2,048 characters, else null. */
export function parseWebhookUrl(value: string): URL | null {
  if (value.length > MAX_WEBHOOK_URL_CHARS || !URL.canParse(value)) return null
  const url = new URL(value)
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : null
}

/**
 * Resolves a webhook URL's host once and checks every address it resolves to: a loopback,
 * private, link-local (metadata), unique-local, CGNAT or unspecified one refuses the URL unless
 * `allowPrivate`. The caller connects to `target.address`, so what was checked is what is reached.
 */
export async function resolveWebhookUrl(
  url: URL,
  options: { allowPrivate: boolean; lookup?: LookupAll },
): Promise<ResolveResult> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  let addresses: { address: string; family: number }[]
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }]
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(host)
    } catch (err) {
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'failed'
      return { ok: false, reason: 'unresolved', detail: `${host} does not resolve (${code})` }
    }
  }
  const [first] = addresses
  if (first === undefined)
    return { ok: false, reason: 'unresolved', detail: `${host} has no address` }
  if (!options.allowPrivate) {
    const refused = addresses.find(({ address }) => !isPublicAddress(address))
    if (refused !== undefined) {
      return {
        ok: false,
        reason: 'not-allowed',
        detail: `${host} is or resolves to ${refused.address}, a loopback, private, link-local or reserved address`,
      }
    }
  }
  return { ok: true, target: { url, address: first.address, family: first.family === 6 ? 6 : 4 } }
}
