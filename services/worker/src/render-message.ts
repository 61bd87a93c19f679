import MailComposer from 'nodemailer/lib/mail-composer'
import type { MessageContent, MessageRecord } from '@outbound/store'
import type { PreparedHeader } from './list-headers.js'

export type RenderInput = {
  record: Pick<MessageRecord, 'id' | 'request'>
  content: MessageContent
  headerFrom: string
  replyTo: string | null
  date: Date
  /** Headers the service adds (the list headers of mass mail), written as given. */
  extraHeaders?: Record<string, PreparedHeader>
}

/**
 * The message as it goes on the wire (CRLF line ends). Bcc never appears in the headers;
 * `X-Outbound-Message-Id` lets a bounce be traced back to its message.
 */
export async function renderMessage({
  record,
  content,
  headerFrom,
  replyTo,
  date,
  extraHeaders = {},
}: RenderInput): Promise<Buffer> {
  const { request } = record
  const composer = new MailComposer({
    from: headerFrom,
    to: request.to,
    cc: request.cc,
    ...(replyTo === null ? {} : { replyTo }),
    subject: request.subject,
    messageId: request.messageIdHeader,
    date,
    ...(content.text === null ? {} : { text: content.text }),
    ...(content.html === null ? {} : { html: content.html }),
    attachments: content.attachments.map((attachment) => ({
      filename: attachment.filename,
      content: attachment.content,
      encoding: 'base64',
      ...(attachment.contentType === null ? {} : { contentType: attachment.contentType }),
    })),
    headers: { ...request.headers, ...extraHeaders, 'X-Outbound-Message-Id': record.id },
    newline: 'win',
    xMailer: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  })
  return await composer.compile().build()
}
