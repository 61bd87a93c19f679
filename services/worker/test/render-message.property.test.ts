import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatMailbox } from '@outbound/address'
import { renderMessage } from '../src/render-message.js'

// Whatever the header-bound fields hold, the rendered message has the header lines it should
// and no others: no field can inject a header (defence in depth: the API refuses CR/LF already).
const REQUIRED = [
  'content-type',
  'date',
  'from',
  'mime-version',
  'message-id',
  'reply-to',
  'to',
  'x-outbound-message-id',
]
// nodemailer leaves out an empty subject or custom header, and a multipart root has no encoding.
const ALLOWED = new Set([...REQUIRED, 'subject', 'x-tag', 'content-transfer-encoding'])

const injection = fc.constantFrom(
  '\r\nBcc: victim@example.com',
  '\nX-Injected: yes',
  '\rX-Injected: yes',
  'a\r\n\r\nbody injected',
  '"\r\nTo: x@y.example',
  '=?UTF-8?Q?=0D=0ABcc:_x@y?=',
  '\u2028X-Injected: yes',
  'é\u0000\u0007\u001b',
)
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  injection,
  fc.string({ maxLength: 40 }).map((s) => `${s}\r\nX-Evil: ${s}`),
)

function headerNames(block: string): string[] {
  return block
    .split('\r\n')
    .filter((line) => line !== '' && !/^[ \t]/.test(line))
    .map((line) => line.slice(0, line.indexOf(':')).toLowerCase())
}

describe('renderMessage with hostile header-bound fields', () => {
  it('never writes a header line the caller did not intend', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostile,
        hostile,
        hostile,
        hostile,
        hostile,
        async (subject, name, value, filename, replyName) => {
          const raw = await renderMessage({
            record: {
              id: 'msg_prop',
              request: {
                from: 'ann@shop.example',
                to: ['bob@example.com'],
                cc: [],
                bcc: ['hidden@example.com'],
                replyTo: null,
                subject,
                headers: { 'X-Tag': value },
                companyId: null,
                serverId: null,
                reference: null,
                tags: [],
                metadata: {},
                messageIdHeader: '<msg_prop@shop.example>',
              },
            },
            content: {
              text: 'hello',
              html: null,
              attachments: [
                {
                  filename: filename === '' ? 'x' : filename,
                  contentType: 'text/plain',
                  content: 'aGk=',
                },
              ],
            },
            headerFrom: formatMailbox({
              name: name === '' ? null : name,
              address: 'notifications@shop.example',
            }),
            replyTo: formatMailbox({
              name: replyName === '' ? null : replyName,
              address: 'ann@shop.example',
            }),
            date: new Date('2026-01-01T00:00:00Z'),
          })
          const text = raw.toString('latin1')
          // Every line ends in CRLF: no bare CR or LF anywhere.
          expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/)
          const [top = '', ...parts] = text.split('\r\n\r\n')
          const names = headerNames(top)
          expect(names.filter((n) => !ALLOWED.has(n))).toEqual([])
          expect(REQUIRED.filter((n) => !names.includes(n))).toEqual([])
          expect(new Set(names).size).toBe(names.length)
          expect(text.toLowerCase()).not.toContain('\r\nbcc:')
          // The attachment part has only its own three headers.
          const boundary = /boundary="([^"]+)"/.exec(top)?.[1] ?? ''
          const attachmentPart = text.split(`--${boundary}`)[2] ?? ''
          const [attachmentHeaders = ''] = attachmentPart.replace(/^\r\n/, '').split('\r\n\r\n')
          expect(headerNames(attachmentHeaders).sort()).toEqual([
            'content-disposition',
            'content-transfer-encoding',
            'content-type',
          ])
          expect(parts.length).toBeGreaterThan(0)
        },
      ),
      { numRuns: 400 },
    )
  })
})
