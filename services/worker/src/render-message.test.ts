import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { MessageContent } from '@outbound/store'
import { buildInMemory, composeMessage, renderMessage, type RenderInput } from './render-message.js'
import { messageRequest } from '../test/helpers/message-request.js'

function input(
  content: Partial<MessageContent>,
  over: Partial<RenderInput['record']['request']> = {},
): RenderInput {
  return {
    record: {
      id: 'msg_1',
      request: messageRequest({
        to: ['Bob <bob@example.com>', 'zoë@exämple.com'],
        cc: ['carol@example.com'],
        bcc: ['hidden@example.com'],
        headers: { 'X-Campaign': 'spring' },
        list: null,
        ...over,
      }),
    },
    content: { text: null, html: null, attachments: [], ...content },
    headerFrom: '"Shop" <news@shop.example>',
    replyTo: 'help@shop.example',
    date: new Date('2026-12-01T06:00:00Z'),
  }
}

const png = randomBytes(3000).toString('base64')
const long = 'word '.repeat(400)
const cases: [string, RenderInput][] = [
  ['plain ASCII text', input({ text: 'Hello Bob,\n\nsee you.\n' })],
  ['text with long lines', input({ text: `${long}\n${'x'.repeat(2000)}` })],
  ['text with bare LF, CR and trailing spaces', input({ text: 'a  \nb\r\nc\rd \t\n.\n..\nend  ' })],
  [
    'mostly non-ASCII text',
    input({ text: 'Привет, как дела? '.repeat(50) }, { subject: 'Привет' }),
  ],
  ['some non-ASCII text', input({ text: `Grüße aus Köln. ${long}` }, { subject: 'Grüße 🎉' })],
  ['HTML only', input({ html: `<p>${long}</p><p>Café &amp; crème</p>` })],
  ['text and HTML', input({ text: 'Hi', html: '<b>Hi</b>' })],
  ['empty text', input({ text: '' })],
  [
    'text, HTML and attachments',
    input({
      text: 'See attached.',
      html: '<p>See <b>attached</b>.</p>',
      attachments: [
        { filename: 'pixel.png', contentType: 'image/png', content: png },
        {
          filename: 'notes é.txt',
          contentType: null,
          content: Buffer.from('a\nb\r\n').toString('base64'),
        },
        { filename: 'empty.bin', contentType: 'application/octet-stream', content: '' },
      ],
    }),
  ],
]

describe('the in-memory build', () => {
  it.each(cases)('gives the bytes of nodemailer’s streamed build: %s', async (_name, message) => {
    const root = composeMessage(message)
    const inMemory = buildInMemory(root)
    expect(inMemory).not.toBeNull()
    const streamed = await root.build()
    expect(inMemory?.toString('latin1')).toBe(streamed.toString('latin1'))
  })

  it('renders with CRLF line ends only and no Bcc header', async () => {
    const raw = (await renderMessage(cases[2]![1])).toString('latin1')
    expect(raw).not.toMatch(/[^\r]\n/)
    expect(raw).not.toMatch(/^bcc:/im)
    expect(raw).toMatch(/^X-Outbound-Message-Id: msg_1\r$/im)
  })
})
