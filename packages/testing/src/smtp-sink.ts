import { SMTPServer, type SMTPServerOptions } from 'smtp-server'

export type ReceivedMessage = Readonly<{
  /** The user that authenticated, when the sink requires AUTH. */
  user: string | null
  /** Whether the session was encrypted (implicit TLS or STARTTLS). */
  secure: boolean
  mailFrom: string
  rcptTo: readonly string[]
  raw: Buffer
  receivedAt: Date
}>

export type SmtpSinkOptions = {
  /**
   * Replies to give per recipient at RCPT TO, e.g. `{ 'full@x.test': '552 5.2.2 mailbox full' }`;
   * a list is answered one per attempt, the last one ever after (`['451 …', '250 ok']`).
   */
  replies?: Readonly<Record<string, string | readonly string[]>>
  /** The greeting to refuse every connection with, e.g. '421 4.3.2 System not accepting'. */
  connectReply?: string
  /** The reply to the end of DATA, e.g. '552 5.3.4 Message too big'. */
  dataReply?: string
  /** Called for each accepted message (after it is recorded), e.g. to time deliveries. */
  onMessage?: (message: ReceivedMessage) => void
  /** Wait this long before answering the end of DATA (a slow server, a send in flight). */
  dataReplyDelayMs?: number
  /** TLS with this certificate: from the first byte (`implicit`, as port 465) or via STARTTLS. */
  tls?: { key: string; cert: string; mode: 'implicit' | 'starttls' }
  /** Require AUTH with these credentials (PLAIN or LOGIN). */
  auth?: { username: string; password: string }
  /** The reply to every MAIL FROM, e.g. '553 5.7.1 sender not allowed'. */
  mailFromReply?: string
  /**
   * Take at most this many messages per connection: the next MAIL FROM is answered with 421 and
   * the connection closed, as servers that cap messages per connection do.
   */
  messagesPerConnection?: number
  /** Listen on this port (a server that comes back where it was); a free one by default. */
  port?: number
}

export type SmtpSink = {
  port: number
  /** `smtp://127.0.0.1:<port>`, usable as SMTP_URL. */
  url: string
  /** Every accepted message, in the order the DATA phase ended. */
  messages: ReceivedMessage[]
  /** The most client connections that were open at once. */
  peakConnections(): number
  /** How many client connections were opened in all. */
  connections(): number
  /**
   * Holds every reply to RCPT TO and to the end of DATA until `release()`: clients then sit either
   * before the end of their message or after it, never in between (a crash test's quiet moment).
   */
  hold(): void
  /** Sends the held replies and answers at once again. */
  release(): void
  /** How many replies are held: to RCPT TO, and to the end of DATA (messages already received). */
  held(): { rcpt: number; data: number }
  /** Resolves when at least `count` messages were received; rejects after timeoutMs. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>
  close(): Promise<void>
}

type SmtpReplyError = Error & { responseCode: number }

function replyError(reply: string): SmtpReplyError {
  const match = /^(\d{3})[ -]?(.*)$/.exec(reply.trim())
  return Object.assign(new Error(match?.[2] ?? reply), { responseCode: Number(match?.[1] ?? 550) })
}

/**
 * An in-process SMTP server on a free port that records envelopes and raw messages, and answers
 * chosen replies per recipient. No TLS, no AUTH: a plain local sink.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: ReceivedMessage[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  const replies = new Map(
    Object.entries(options.replies ?? {}).map(([address, reply]) => [
      address.toLowerCase(),
      typeof reply === 'string' ? [reply] : [...reply],
    ]),
  )
  const replyTo = (address: string): string | undefined => {
    const queue = replies.get(address)
    return queue === undefined ? undefined : queue.length > 1 ? queue.shift() : queue[0]
  }

  let holding = false
  const heldRcpt: (() => void)[] = []
  const heldData: (() => void)[] = []
  const answer = (queue: (() => void)[], reply: () => void) => {
    if (holding) queue.push(reply)
    else reply()
  }

  let openConnections = 0
  let peak = 0
  let opened = 0
  const { tls, auth } = options
  const serverOptions: SMTPServerOptions = {
    ...(tls === undefined ? {} : { key: tls.key, cert: tls.cert, secure: tls.mode === 'implicit' }),
    authOptional: auth === undefined,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(credentials, _session, callback) {
      if (
        auth !== undefined &&
        credentials.username === auth.username &&
        credentials.password === auth.password
      ) {
        callback(null, { user: credentials.username })
        return
      }
      callback(Object.assign(new Error('5.7.8 authentication failed'), { responseCode: 535 }))
    },
    onMailFrom(_address, session, callback) {
      const cap = options.messagesPerConnection
      if (cap !== undefined && session.transaction > cap) {
        callback(replyError('421 4.7.0 Too many messages in this connection'))
        return
      }
      const reply = options.mailFromReply
      if (reply === undefined || reply.startsWith('2')) {
        callback()
        return
      }
      callback(replyError(reply))
    },
    onConnect(_session, callback) {
      openConnections += 1
      opened += 1
      peak = Math.max(peak, openConnections)
      callback(options.connectReply === undefined ? undefined : replyError(options.connectReply))
    },
    onClose() {
      openConnections -= 1
    },
    disabledCommands: [
      ...(tls?.mode === 'starttls' ? [] : ['STARTTLS']),
      ...(auth === undefined ? ['AUTH'] : []),
    ],
    logger: false,
    // Lingering client connections are cut 50 ms after close() instead of 30 s.
    closeTimeout: 50,
    size: 64 * 1024 * 1024,
    onRcptTo(address, _session, callback) {
      const reply = replyTo(address.address.toLowerCase())
      answer(heldRcpt, () => {
        callback(reply === undefined || reply.startsWith('2') ? undefined : replyError(reply))
      })
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const dataReply = options.dataReply
        if (dataReply !== undefined && !dataReply.startsWith('2')) {
          callback(replyError(dataReply))
          return
        }
        const mailFrom = session.envelope.mailFrom
        const message: ReceivedMessage = {
          user: typeof session.user === 'string' ? session.user : null,
          secure: session.secure,
          mailFrom: mailFrom === false ? '' : mailFrom.address,
          rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks),
          receivedAt: new Date(),
        }
        messages.push(message)
        options.onMessage?.(message)
        for (const waiter of waiters.filter((w) => messages.length >= w.count)) waiter.resolve()
        setTimeout(() => answer(heldData, () => callback()), options.dataReplyDelayMs ?? 0)
      })
    },
  }
  const server = new SMTPServer(serverOptions)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  server.on('error', () => {
    // Client-side resets during tests (a killed worker) are expected; the sink keeps serving.
  })
  const address = server.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    peakConnections: () => peak,
    connections: () => opened,
    hold() {
      holding = true
    },
    release() {
      holding = false
      for (const reply of [...heldRcpt.splice(0), ...heldData.splice(0)]) reply()
    },
    held: () => ({ rcpt: heldRcpt.length, data: heldData.length }),
    async waitForMessages(count, timeoutMs = 10_000) {
      if (messages.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            reject(
              new Error(`SMTP sink: ${messages.length} of ${count} messages after ${timeoutMs} ms`),
            )
          }, timeoutMs)
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer)
              resolve()
            },
          })
        })
      }
      return messages.slice()
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
