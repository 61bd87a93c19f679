/** How the client retries answers that ask it to come back later (429, 503). */
export type RetryOptions = {
  /** Retries after the first attempt (default 2); 0 turns retrying off. */
  retries?: number
  /** The longest wait the client accepts (default 30 s): a longer Retry-After is returned as is. */
  maxDelayMs?: number
  /** The wait when the answer has no usable Retry-After (default 1 s, doubled per retry). */
  baseDelayMs?: number
}

const RETRIED_STATUSES = new Set([429, 503])

/**
 * Retry-After (RFC 9110 §10.2.3) in milliseconds: delay-seconds or an HTTP date; null when absent
 * or not readable.
 */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | null {
  if (header === null) return null
  const value = header.trim()
  if (/^\d+$/.test(value)) return Number(value) * 1000
  // An HTTP date names its month (Date.parse alone would read "1.5" or "-1" as dates).
  const at = /[a-z]{3}/i.test(value) ? Date.parse(value) : Number.NaN
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

/**
 * A fetch that tries a request again when it is answered 429 or 503, after the Retry-After the
 * server gave (else a doubling back-off), a bounded number of times and never longer than
 * `maxDelayMs` per wait. Every attempt sends the same request, headers included, so a send keeps
 * its Idempotency-Key and the server answers a repeat with the first answer.
 */
export function retryingFetch(
  base: (request: Request) => Promise<Response>,
  options: RetryOptions = {},
): (request: Request) => Promise<Response> {
  const retries = options.retries ?? 2
  const maxDelayMs = options.maxDelayMs ?? 30_000
  const baseDelayMs = options.baseDelayMs ?? 1000
  return async (request) => {
    for (let attempt = 0; ; attempt += 1) {
      // The body of a request can be read once: each attempt sends a copy.
      const response = await base(attempt < retries ? request.clone() : request)
      if (!RETRIED_STATUSES.has(response.status) || attempt >= retries) return response
      const delayMs =
        retryAfterMs(response.headers.get('retry-after')) ?? baseDelayMs * 2 ** attempt
      if (delayMs > maxDelayMs) return response
      // The answer is dropped: free its connection before waiting.
      await response.body?.cancel()
      await new Promise((resolve) => setTimeout(resolve, delayMs))
    }
  }
}
