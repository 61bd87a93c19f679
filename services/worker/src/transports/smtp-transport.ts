import { Readable } from 'node:stream'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import {
  AfterCommitError,
  HandoffRevokedError,
  type MessageTransport,
  type OutgoingMessage,
  type SendResult,
} from './message-transport.js'

export type SmtpSettings = {
  host: string
  port: number
  /**
   * `tls`: TLS from the first byte (465); `starttls`: upgrade required (587); `none`: plain, no
   * TLS at all (a configured server, as Odoo's "none"); `opportunistic`: STARTTLS when offered
   * (SMTP_URL's smtp://).
   */
  security: 'none' | 'starttls' | 'tls' | 'opportunistic'
  username: string | null
  password: string | null
  maxConnections: number
  /** Extra CA certificates to trust besides the system's (a private CA, a test sink). */
  ca?: Buffer
}

/**
 * A connection carries at most this many messages and lives at most this long, then a new one is
 * opened (KumoMTA's default is 1,024 messages; Postfix reuses one for 300 s with no count limit).
 * Each new connection costs a handshake (TCP, greeting, EHLO, TLS, AUTH) that the send needing it
 * waits for: at nodemailer's 100, one transactional message in a hundred waited for one.
 */
const MAX_MESSAGES_PER_CONNECTION = 1000
const MAX_CONNECTION_AGE_MS = 300_000
const IDLE_CLOSE_MS = 30_000
const LEASED_IDLE_CLOSE_MS = 250
const TIMEOUTS = { connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 120_000 }

/** Settings from SMTP_URL: `smtp://user:pass@host:587` (STARTTLS when offered), `smtps://…:465`. */
export function smtpSettingsFromUrl(url: string, maxConnections = 5): SmtpSettings {
  const parsed = new URL(url)
  const secure = parsed.protocol === 'smtps:'
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? (secure ? 465 : 587) : Number(parsed.port),
    security: secure ? 'tls' : 'opportunistic',
    username: parsed.username === '' ? null : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? null : decodeURIComponent(parsed.password),
    maxConnections,
  }
}

type PooledConnection = {
  connection: SMTPConnection
  sent: number
  /** When it was opened (Date.now()). */
  openedAt: number
  usable: boolean
  idleTimer?: NodeJS.Timeout
  /** The connection's lease, when connections are capped across processes. */
  lease?: string
  /** In use by a non-urgent (mass) send: counted against the transactional reserve. */
  nonUrgent?: boolean
}

/**
 * A message stream that ends (letting SMTPConnection write the final `.`) only after `commit`
 * resolved true. SMTPConnection starts reading it once the server answered DATA with 354, so the
 * commit happens after every RCPT was answered and before the server can have the message.
 */
type GateState = { committed: boolean; revoked: boolean }

function gatedStream(raw: Buffer, commit: () => Promise<boolean>, state: GateState): Readable {
  let pushed = false
  return new Readable({
    read() {
      if (!pushed) {
        pushed = true
        this.push(raw)
        return
      }
      commit().then(
        (ok) => {
          if (!ok) {
            state.revoked = true
            this.destroy(new HandoffRevokedError())
            return
          }
          state.committed = true
          this.push(null)
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      )
    },
  })
}

/** One mail transaction on a connection, its end of DATA held by the commit gate. */
function transact(
  pooled: PooledConnection,
  message: OutgoingMessage,
  gate: GateState,
): Promise<SMTPConnection.SentMessageInfo> {
  return new Promise((resolve, reject) => {
    // A copy: SMTPConnection writes its state (a MAIL FROM error among it) into the envelope.
    pooled.connection.send(
      { from: message.envelope.from, to: [...message.envelope.to] },
      gatedStream(message.raw, message.commit, gate),
      (err, result) => {
        if (err) reject(err)
        else resolve(result)
      },
    )
  })
}

/** The server's reply code an error carries, if the server replied. */
function replyCode(err: unknown): number | undefined {
  return err instanceof Error && 'responseCode' in err && typeof err.responseCode === 'number'
    ? err.responseCode
    : undefined
}

/** How long a send waits for a connection of the pool before it counts as a temporary failure. */
const ACQUIRE_TIMEOUT_MS = 120_000

/** Thrown when no connection of the pool could be had in time: a temporary failure. */
class ConnectionWaitTimeoutError extends Error {}

/**
 * Leases that cap a server's connections across every worker process (DOMAIN.md §8): one per open
 * connection, renewed while it is open, lapsing when its process dies.
 */
export type ConnectionLeases = {
  /** Takes a lease unless `max` are held (by every process together). */
  take(member: string, max: number): Promise<boolean>
  renew(members: readonly string[]): Promise<void>
  release(member: string): Promise<void>
  /** Says this process waits for a lease every other process holds. */
  want(): Promise<void>
  /** Whether another process waits for a lease: then a connection is given up, not reused. */
  wantedElsewhere(): Promise<boolean>
}

/**
 * Connections of a server that mass mail leaves to transactional mail (when the server allows 3 or
 * more), across every process: a password reset never waits behind a campaign for a connection.
 */
function transactionalReserve(maxConnections: number): number {
  return maxConnections >= 3 ? 1 : 0
}

/** How often held leases are renewed (they lapse after three times as long). */
const LEASE_RENEW_MS = 10_000
/** How often a send waiting for a lease held elsewhere asks again. */
const LEASE_POLL_MS = 25
/** How often a process holding leases looks whether another one waits for them. */
const WANTED_CHECK_MS = 50

/** Delivers over SMTP through a pool of up to `maxConnections` reused connections. */
export function createSmtpTransport(
  settings: SmtpSettings,
  options: {
    acquireTimeoutMs?: number
    leases?: ConnectionLeases
    holder?: string
    /** MAX_MESSAGES_PER_CONNECTION and MAX_CONNECTION_AGE_MS, unless given (tests). */
    maxMessagesPerConnection?: number
    maxConnectionAgeMs?: number
  } = {},
): MessageTransport {
  const { leases } = options
  const maxMessages = options.maxMessagesPerConnection ?? MAX_MESSAGES_PER_CONNECTION
  const maxAgeMs = options.maxConnectionAgeMs ?? MAX_CONNECTION_AGE_MS
  // An idle connection holds its lease, which another process may be waiting for: with leases, an
  // idle connection is closed after a quarter second (a busy pool reuses its connections at once).
  const idleCloseMs = leases === undefined ? IDLE_CLOSE_MS : LEASED_IDLE_CLOSE_MS
  const held = new Set<string>()
  let leaseSequence = 0
  // Whether another process waits for one of our leases, checked at most every WANTED_CHECK_MS.
  let wanted = false
  // One connection is given up per check, not all of them.
  let yielded = false
  let wantedCheckedAt = 0
  function checkWanted(): void {
    if (leases === undefined || Date.now() - wantedCheckedAt < WANTED_CHECK_MS) return
    wantedCheckedAt = Date.now()
    leases.wantedElsewhere().then(
      (answer) => {
        wanted = answer
        yielded = false
      },
      () => {
        // Unknown: keep the connection; the next check asks again.
      },
    )
  }
  const renewal =
    leases === undefined
      ? undefined
      : setInterval(() => {
          leases.renew([...held]).catch(() => {
            // A lease that lapses while Redis is away is taken again by the next connection.
          })
        }, LEASE_RENEW_MS)
  renewal?.unref()
  const idle: PooledConnection[] = []
  // Sends waiting for a connection. Whatever ends a connection or an attempt to open one
  // (released, discarded, connected, failed) wakes one of them, which then tries again itself:
  // a wait always ends, with a connection, a failure of its own, or the timeout. Urgent sends
  // (transactional mail) are woken first, and a non-urgent send leaves an idle connection to them.
  const waiting: (() => void)[] = []
  const waitingUrgent: (() => void)[] = []
  let open = 0
  // Connections in use by non-urgent sends: they may hold at most maxConnections less the reserve.
  let busyNonUrgent = 0
  let closed = false

  const connectionOptions: ConstructorParameters<typeof SMTPConnection>[0] = {
    host: settings.host,
    port: settings.port,
    secure: settings.security === 'tls',
    requireTLS: settings.security === 'starttls',
    ignoreTLS: settings.security === 'none',
    ...(settings.ca === undefined ? {} : { tls: { ca: [settings.ca] } }),
    ...TIMEOUTS,
    logger: false,
  }

  async function connect(): Promise<PooledConnection> {
    const connection = new SMTPConnection(connectionOptions)
    const pooled: PooledConnection = { connection, sent: 0, openedAt: Date.now(), usable: true }
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        pooled.usable = false
        connection.close()
        reject(err)
      }
      connection.once('error', fail)
      connection.connect(() => {
        const ready = () => {
          connection.off('error', fail)
          resolve()
        }
        if (settings.username === null) {
          ready()
          return
        }
        connection.login({ user: settings.username, pass: settings.password ?? '' }, (err) => {
          if (err) fail(err)
          else ready()
        })
      })
    })
    // From now on a broken connection is simply not reused.
    connection.on('error', () => {
      pooled.usable = false
    })
    connection.on('end', () => {
      pooled.usable = false
    })
    return pooled
  }

  function wakeOne(): void {
    ;(waitingUrgent.shift() ?? waiting.shift())?.()
  }

  function dropLease(lease: string | undefined): void {
    if (lease === undefined || leases === undefined) return
    held.delete(lease)
    leases.release(lease).catch(() => {
      // Not released: it lapses by itself.
    })
  }

  function discard(pooled: PooledConnection): void {
    pooled.usable = false
    clearTimeout(pooled.idleTimer)
    pooled.connection.close()
    dropLease(pooled.lease)
    open -= 1
    wakeOne()
  }

  /** A lease for one more connection, or null while every lease is held (here or elsewhere). */
  async function takeLease(max: number): Promise<string | null | undefined> {
    if (leases === undefined) return undefined
    const lease = `${options.holder ?? 'worker'}:${++leaseSequence}`
    if (!(await leases.take(lease, max))) return null
    held.add(lease)
    return lease
  }

  async function waitForTurn(deadline: number, urgent: boolean): Promise<void> {
    const queue = urgent ? waitingUrgent : waiting
    const remaining = deadline - Date.now()
    if (remaining <= 0) {
      throw new ConnectionWaitTimeoutError(
        `no connection to ${settings.host}:${settings.port} came free within ${options.acquireTimeoutMs ?? ACQUIRE_TIMEOUT_MS} ms`,
      )
    }
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        const index = queue.indexOf(wake)
        if (index >= 0) queue.splice(index, 1)
        resolve()
      }, remaining)
      queue.push(wake)
    })
  }

  function inUse(pooled: PooledConnection, urgent: boolean): PooledConnection {
    if (!urgent) {
      pooled.nonUrgent = true
      busyNonUrgent += 1
    }
    return pooled
  }

  async function acquire(urgent: boolean): Promise<PooledConnection> {
    const deadline = Date.now() + (options.acquireTimeoutMs ?? ACQUIRE_TIMEOUT_MS)
    const limit = urgent
      ? settings.maxConnections
      : settings.maxConnections - transactionalReserve(settings.maxConnections)
    for (;;) {
      if (closed) throw new Error('the SMTP transport is closed')
      if (!urgent && waitingUrgent.length > 0) {
        // An urgent send waits: the connection that comes free is its.
        wakeOne()
        await waitForTurn(deadline, false)
        continue
      }
      // An idle connection may be the reserved one: mass mail takes it only below its limit.
      while ((urgent || busyNonUrgent < limit) && idle.length > 0) {
        const pooled = idle.pop()
        if (pooled === undefined) break
        clearTimeout(pooled.idleTimer)
        if (pooled.usable) return inUse(pooled, urgent)
        discard(pooled)
      }
      // While another process waits for a lease, this one takes no new one for mass mail (it would
      // win the race for the lease it just gave up); transactional mail still may.
      if (open < limit && (urgent || !wanted)) {
        open += 1
        let lease: string | null | undefined
        try {
          lease = await takeLease(limit)
        } catch (err) {
          open -= 1
          wakeOne()
          throw err
        }
        if (lease === null) {
          // Every lease is held by other processes: say so (one of them gives a connection up),
          // and ask again shortly.
          open -= 1
          wakeOne()
          // Refused mass mail may only be up against the reserve: it asks others to give a
          // connection up only when it holds none (so no process is starved for good).
          if (urgent || open === 0) {
            leases?.want().catch(() => {
              // Not said: the others' idle connections still close by themselves.
            })
          }
          await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS))
          if (Date.now() > deadline) await waitForTurn(deadline, urgent)
          continue
        }
        try {
          const pooled = await connect()
          if (lease !== undefined) pooled.lease = lease
          return inUse(pooled, urgent)
        } catch (err) {
          dropLease(lease)
          open -= 1
          // The slot is free again: the next waiter tries its own connection (and fails or not).
          wakeOne()
          throw err
        }
      }
      if (wanted && !urgent) {
        checkWanted()
        await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS))
        if (Date.now() > deadline) await waitForTurn(deadline, urgent)
        continue
      }
      await waitForTurn(deadline, urgent)
    }
  }

  function release(pooled: PooledConnection, reusable: boolean): void {
    if (pooled.nonUrgent === true) {
      pooled.nonUrgent = false
      busyNonUrgent -= 1
    }
    checkWanted()
    // Another process waits for a lease while this one uses them all: give one connection up.
    const yieldLease = wanted && !yielded && pooled.lease !== undefined
    if (yieldLease) yielded = true
    if (
      yieldLease ||
      !reusable ||
      !pooled.usable ||
      closed ||
      pooled.sent >= maxMessages ||
      Date.now() - pooled.openedAt >= maxAgeMs
    ) {
      discard(pooled)
      return
    }
    pooled.idleTimer = setTimeout(() => {
      const index = idle.indexOf(pooled)
      if (index >= 0) idle.splice(index, 1)
      discard(pooled)
    }, idleCloseMs)
    pooled.idleTimer.unref()
    idle.push(pooled)
    wakeOne()
  }

  return {
    description: `smtp${settings.security === 'tls' ? 's' : ''}://${settings.host}:${settings.port}`,
    async send(message: OutgoingMessage): Promise<SendResult> {
      const urgent = message.urgent === true
      let pooled = await acquire(urgent)
      try {
        await message.beforeTransaction?.()
      } catch (err) {
        release(pooled, true)
        throw err
      }
      for (let again = false; ; again = true) {
        const gate: GateState = { committed: false, revoked: false }
        try {
          const info = await transact(pooled, message, gate)
          pooled.sent += 1
          release(pooled, true)
          return {
            response: info.response,
            accepted: info.accepted.map(String),
            rejected: (info.rejectedErrors ?? []).map((error) => ({
              address: error.recipient ?? '',
              responseCode: error.responseCode ?? null,
              response: error.response ?? error.message,
            })),
          }
        } catch (err) {
          // A failed transaction leaves the session in an unknown state: never reuse it.
          release(pooled, false)
          if (gate.revoked) throw new HandoffRevokedError()
          const code = replyCode(err)
          // A server that caps the messages of a connection answers the next one with 421 and
          // closes it: before the commit, that message is tried once more on a new connection.
          if (!again && !gate.committed && code === 421 && pooled.sent > 0) {
            pooled = await acquire(urgent)
            continue
          }
          // After the commit, a reply (even a refusal) is an answer; no reply at all is ambiguous.
          throw gate.committed && code === undefined ? new AfterCommitError(err) : err
        }
      }
    },
    async close() {
      closed = true
      clearInterval(renewal)
      for (const pooled of idle.splice(0)) discard(pooled)
      // Each waiter wakes, finds the transport closed and fails its send.
      for (const wake of [...waitingUrgent.splice(0), ...waiting.splice(0)]) wake()
    },
  }
}
