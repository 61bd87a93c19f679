import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import {
  HandoffRevokedError,
  type MessageTransport,
  type OutgoingMessage,
  type SendResult,
} from './message-transport.js'

/**
 * The built-in default server when SMTP_URL is unset: each message becomes `<id>.eml` in the
 * outbox. The file appears whole (written aside, then renamed) and only after the commit.
 */
export function createFileOutbox(dir: string): MessageTransport {
  const outbox = resolve(dir)
  let ready: Promise<unknown> | undefined
  return {
    description: `file outbox ${outbox}`,
    async send(message: OutgoingMessage): Promise<SendResult> {
      ready ??= mkdir(outbox, { recursive: true })
      await ready
      const temporary = join(outbox, `.${message.id}.${randomBytes(4).toString('hex')}.tmp`)
      await writeFile(temporary, message.raw)
      if (!(await message.commit())) {
        await rm(temporary, { force: true })
        throw new HandoffRevokedError()
      }
      const file = join(outbox, `${message.id}.eml`)
      await rename(temporary, file)
      return { response: `250 written to ${file}`, accepted: message.envelope.to, rejected: [] }
    },
    async close() {},
  }
}
