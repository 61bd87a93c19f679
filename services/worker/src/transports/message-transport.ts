/** One message on its way to a server: the envelope, the rendered bytes, and the commit gate. */
export type OutgoingMessage = {
  id: string
  envelope: { from: string; to: string[] }
  raw: Buffer
  /**
   * Served before every non-urgent send waiting for a connection of the same transport
   * (transactional mail while mass mail fills the pool).
   */
  urgent?: boolean
  /**
   * Called right before the end of DATA is written (the point after which the server may have
   * the message). Resolves false when this attempt lost its claim: the transport must then abort
   * without finishing DATA and throw HandoffRevokedError.
   */
  commit: () => Promise<boolean>
  /** Called once a connection is in hand, before the transaction starts (rate pacing). */
  beforeTransaction?: () => Promise<void>
}

export type RecipientRefusal = { address: string; responseCode: number | null; response: string }

export type SendResult = {
  /** The server's final reply to the message. */
  response: string
  accepted: string[]
  rejected: RecipientRefusal[]
}

/** An adapter that hands a message to a server (an SMTP server, or the file outbox). */
export interface MessageTransport {
  /** A short description for logs and the message record (`smtp://host:587`, `file outbox ./var/outbox`). */
  readonly description: string
  send(message: OutgoingMessage): Promise<SendResult>
  close(): Promise<void>
}

/** This attempt lost its claim before the end of DATA: nothing was handed over. */
export class HandoffRevokedError extends Error {
  constructor() {
    super('the message was canceled or taken over by another attempt before the hand-over')
    this.name = 'HandoffRevokedError'
  }
}

/**
 * Set on errors raised after the commit: the end of DATA may have reached the server. The worker
 * retries these like any MTA (RFC 1047's duplicate risk), but says so in the record.
 */
export class AfterCommitError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.name = 'AfterCommitError'
  }
}
