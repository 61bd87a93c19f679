// The console talks only to this origin's /v1 routes and /console/session, with the session
// cookie (sent by the browser) and the console's header, which the API asks of every change.

export const CONSOLE_HEADER = 'x-outbound-console'
/** Dispatched on window when the API says the session is gone (expired, key rotated). */
export const SESSION_ENDED = 'outbound:session-ended'

/** An answer of the API that is not 2xx, with its stable code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

type Body = { json: unknown } | { text: string; contentType: string } | undefined

async function request(method: string, path: string, body?: Body): Promise<Response> {
  const headers: Record<string, string> = { [CONSOLE_HEADER]: '1' }
  let payload: string | undefined
  if (body !== undefined && 'json' in body) {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(body.json)
  } else if (body !== undefined) {
    headers['content-type'] = body.contentType
    payload = body.text
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(payload === undefined ? {} : { body: payload }),
  })
  if (!response.ok) {
    let code = 'HTTP_ERROR'
    let message = `${method} ${path}: ${response.status}`
    try {
      const error = (await response.json()) as { code?: unknown; message?: unknown }
      if (typeof error.code === 'string') code = error.code
      if (typeof error.message === 'string') message = error.message
    } catch {
      // Not JSON (a proxy's page): the status line says enough.
    }
    if (response.status === 401 && !path.startsWith('/console/')) {
      window.dispatchEvent(new Event(SESSION_ENDED))
    }
    throw new ApiError(response.status, code, message)
  }
  return response
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request('GET', path)).json()) as T
}

export async function getText(path: string): Promise<string> {
  return await (await request('GET', path)).text()
}

/** A change: POST, PATCH or DELETE with an optional JSON body; the answer's JSON, if any. */
export async function send<T = unknown>(
  method: 'POST' | 'PATCH' | 'DELETE',
  path: string,
  json?: unknown,
): Promise<T | undefined> {
  const response = await request(method, path, json === undefined ? undefined : { json })
  const text = await response.text()
  return text === '' ? undefined : (JSON.parse(text) as T)
}

export async function sendText<T = unknown>(
  path: string,
  text: string,
  contentType: string,
): Promise<T> {
  return (await (await request('POST', path, { text, contentType })).json()) as T
}

// What the console reads, as CONTRACT.md words it. Fields another wave may add are optional.

export type Session = {
  authRequired: boolean
  signedIn: boolean
  name: string | null
  scopes: string[]
}

export type Recipient = {
  address: string
  status: string
  smtpCode: number | null
  enhancedCode: string | null
  diagnostic: string | null
}

export type MessageSummary = {
  id: string
  status: string
  stream: string
  from: string
  headerFrom?: string | null
  envelopeFrom?: string | null
  to: string[]
  cc?: string[]
  bcc?: string[]
  subject: string
  serverId: string | null
  serverName?: string | null
  createdAt: string
  sentAt?: string | null
  reference?: string | null
  tags?: string[]
  list?: string | null
}

export type MessageRecord = MessageSummary & {
  companyId: string | null
  replyTo: string | null
  routing: { step: string; reason: string } | null
  attempts: number
  scheduledAt: string | null
  deferredUntil?: string | null
  smtpResponse: string | null
  error: string | null
  metadata?: Record<string, string>
  warnings?: string[]
  dkim?: { signed: boolean; domain: string; selectors: string[]; detail: string } | null
  recipients: Recipient[]
  events: { at: string; type: string; detail: string | null }[]
  sandbox?: boolean
}

export type ServerState = {
  status: 'ok' | 'throttled' | 'down'
  since: string
  until: string | null
  reason: string | null
  consecutiveFailures: number
}

export type QuotaEntry = {
  serverId: string
  name?: string
  serverName?: string
  limit: number | null
  used: number
  remaining: number | null
  reservedForTransactional: number
  windowStart: string
  resetsAt: string
  state: ServerState | null
}

export type OutgoingServer = {
  id: string
  name: string
  host: string
  port: number
  security: 'none' | 'starttls' | 'tls'
  username: string | null
  hasPassword?: boolean
  sequence: number
  fromFilter: string | null
  dailyLimit: number | null
  maxConnections: number
  connectionsInUse?: number
  rateLimit: string | null
  failover?: boolean
  active: boolean
  state: ServerState
}

export type Suppression = {
  address: string
  reason: string
  source?: string
  list?: string | null
  createdAt: string
}

export type Webhook = {
  id: string
  url: string
  events: string[]
  description: string | null
  active: boolean
  disabledReason?: string | null
  createdAt: string
}

export type WebhookAttempt = {
  eventId: string
  type: string
  attempt: number
  status: string
  statusCode: number | null
  durationMs: number
  response: string | null
  error: string | null
  at: string
}
