import { isSlowDown } from '@outbound/bounce'
import { Readable } from 'node:stream'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import { parseFromFilter } from '@outbound/routing'
import { aliasAddresses, aliasDomainFor } from '@outbound/rewrite'
import { openSecretWithAny } from '@outbound/secrets'
import type { ConfigSnapshot, OutgoingServer } from '@outbound/store'

export type TestStage = 'connect' | 'tls' | 'ehlo' | 'auth' | 'mail' | 'rcpt' | 'data' | 'done'
export type TestResult = { ok: boolean; stage: TestStage; detail: string; sender: string }

const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 }

/**
 * The MAIL FROM of a test: the filter's first full address; else N when its domain is in the
 * filter; else noreply@ the filter's first domain; with no filter, N, else noreply@ the host.
 */
export function testSender(server: OutgoingServer, snapshot: ConfigSnapshot): string {
  const parsed = parseFromFilter(server.fromFilter)
  const parts = parsed.ok ? parsed.parts : []
  const address = parts.find((part) => part.kind === 'address')
  if (address !== undefined) return address.value
  const aliasDomain = aliasDomainFor(null, snapshot.aliasDomains)
  const alias = aliasDomain === null ? null : aliasAddresses(aliasDomain)
  const domains = parts.filter((part) => part.kind === 'domain').map((part) => part.value)
  if (alias !== null && (domains.length === 0 || domains.includes(alias.domain)))
    return alias.notification
  return `noreply@${domains[0] ?? server.host}`
}

export type SmtpError = Error & {
  code?: string
  command?: string
  response?: string
  responseCode?: number
}

/** The stage an SMTP client error happened at, from its command and code. */
export function stageOf(err: SmtpError): TestStage {
  const command = (err.command ?? '').toUpperCase()
  if (command.startsWith('MAIL')) return 'mail'
  if (command.startsWith('RCPT')) return 'rcpt'
  if (command.startsWith('DATA')) return 'data'
  if (command.startsWith('AUTH') || err.code === 'EAUTH' || err.code === 'ENOAUTH') return 'auth'
  if (
    command === 'STARTTLS' ||
    err.code === 'ETLS' ||
    /certificate|ssl|tls|self.signed/i.test(`${err.code ?? ''} ${err.message}`)
  ) {
    return 'tls'
  }
  if (command === 'EHLO' || command === 'HELO') return 'ehlo'
  return 'connect'
}

/** The server's reply, with a hint for the usual fixes. */
export function describeFailure(
  err: SmtpError,
  stage: TestStage,
  server: Pick<OutgoingServer, 'port'>,
): string {
  const reply = err.response ?? err.message
  // DOMAIN.md §8: a reply that asks to slow down is throttling, not a broken setting.
  const throttling = isSlowDown({ code: err.responseCode ?? null, text: reply })
  const hint = throttling
    ? ' The server asks to slow down (throttling): the settings work, but it refuses more mail for now; lower rateLimit or maxConnections, or wait.'
    : stage === 'connect' && server.port === 25
      ? ' Port 25 is often blocked by hosting providers: try 465 (tls), 587 (starttls) or 2525.'
      : stage === 'tls'
        ? " Check the security setting (tls for 465, starttls for 587) and the server's certificate."
        : stage === 'auth'
          ? ' Check the username and password.'
          : ''
  return `${reply}${hint}`
}

async function connect(connection: SMTPConnection): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    connection.once('error', reject)
    connection.connect(() => {
      connection.off('error', reject)
      resolve()
    })
  })
}

/**
 * Test Connection (CONTRACT.md): connect, EHLO, STARTTLS or TLS, AUTH, MAIL FROM, RCPT, and DATA,
 * which must answer 354; the message is then abandoned before its end, so nothing is sent.
 */
export async function testConnection(
  server: OutgoingServer,
  snapshot: ConfigSnapshot,
  secretKeys: readonly Buffer[],
  extraCa?: Buffer,
): Promise<TestResult> {
  const sender = testSender(server, snapshot)
  let password: string | null = null
  if (server.passwordSealed !== null) {
    try {
      password = openSecretWithAny(server.passwordSealed, secretKeys)
    } catch {
      return {
        ok: false,
        stage: 'auth',
        detail: 'the stored password does not open with OUTBOUND_SECRET_KEY',
        sender,
      }
    }
  }
  const connection = new SMTPConnection({
    host: server.host,
    port: server.port,
    secure: server.security === 'tls',
    requireTLS: server.security === 'starttls',
    ignoreTLS: server.security === 'none',
    ...(extraCa === undefined ? {} : { tls: { ca: [extraCa] } }),
    ...TIMEOUTS,
    logger: false,
  })
  connection.on('error', () => {
    // Errors are reported through the awaited steps below; this keeps a late one from crashing.
  })
  const progress = { reached354: false }
  try {
    await connect(connection)
    if (server.username !== null) {
      await new Promise<void>((resolve, reject) => {
        connection.login({ user: server.username ?? '', pass: password ?? '' }, (err) =>
          err ? reject(err) : resolve(),
        )
      })
    }
    // The message stream is read only after DATA was answered with 354; failing it then makes
    // the connection drop before the end of DATA, so the server discards the message.
    const abandon = new Readable({
      read() {
        progress.reached354 = true
        this.destroy(new Error('test over: abandoning DATA'))
      },
    })
    await new Promise<void>((resolve, reject) => {
      connection.send({ from: sender, to: [sender] }, abandon, (err) =>
        err ? reject(err) : resolve(),
      )
    })
    return {
      ok: false,
      stage: 'data',
      detail: 'the server accepted an empty message; it should have waited for data',
      sender,
    }
  } catch (error) {
    if (progress.reached354) {
      return {
        ok: true,
        stage: 'done',
        detail:
          'connected, MAIL FROM and RCPT accepted, DATA answered 354; aborted without sending',
        sender,
      }
    }
    const err: SmtpError = error instanceof Error ? error : new Error(String(error))
    const stage = stageOf(err)
    return { ok: false, stage, detail: describeFailure(err, stage, server), sender }
  } finally {
    connection.close()
  }
}
