import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import type { WebhookTarget } from './resolve-webhook-url.js'

/** How much of a reply body is read and kept. */
export const MAX_REPLY_BYTES = 1024

/** What one request came to: the endpoint's reply, or why there was none. */
export type PostResult =
  | { kind: 'replied'; statusCode: number; body: string; durationMs: number }
  | { kind: 'error'; error: string; durationMs: number }

/**
 * POSTs `body` to the checked address of `target` with the URL's Host (and TLS server name), no
 * redirects followed, no connection reused; reads at most 1 KiB of the reply. Never throws.
 */
export async function postWebhook(
  target: WebhookTarget,
  body: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<PostResult> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  const { url } = target
  const https = url.protocol === 'https:'
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return await new Promise<PostResult>((resolve) => {
    let settled = false
    // Once the status line is in, a timeout ends the body read and keeps the reply.
    let endRead: (() => void) | undefined
    const finish = (result: PostResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    const request = (https ? httpsRequest : httpRequest)(
      {
        method: 'POST',
        host: target.address,
        family: target.family,
        port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
        path: `${url.pathname}${url.search}`,
        ...(https && isIP(hostname) === 0 ? { servername: hostname } : {}),
        ...(url.username === ''
          ? {}
          : { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` }),
        agent: false,
        headers: {
          ...headers,
          host: url.host,
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Outbound-Webhooks/1',
        },
      },
      (response) => {
        const chunks: Buffer[] = []
        let size = 0
        const done = () => {
          finish({
            kind: 'replied',
            statusCode: response.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, MAX_REPLY_BYTES).toString('utf8'),
            durationMs: elapsed(),
          })
          response.destroy()
        }
        endRead = done
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
          size += chunk.length
          if (size >= MAX_REPLY_BYTES) done()
        })
        response.on('end', done)
        response.on('error', done)
        response.on('close', done)
      },
    )
    const timer = setTimeout(() => {
      if (endRead !== undefined) return endRead()
      finish({ kind: 'error', error: `no reply within ${timeoutMs} ms`, durationMs: elapsed() })
      request.destroy()
    }, timeoutMs)
    request.on('error', (err) =>
      finish({ kind: 'error', error: err.message, durationMs: elapsed() }),
    )
    request.end(body)
  })
}
