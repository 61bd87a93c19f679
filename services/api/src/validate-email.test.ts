import { describe, expect, it } from 'vitest'
import { loadApiConfig } from '@outbound/config'
import { AppError } from './errors.js'
import type { SendEmail } from './routes/v1/email-schemas.js'
import { validateEmail } from './validate-email.js'

const limits = loadApiConfig({ REDIS_URL: 'redis://127.0.0.1:1' }).limits
const now = new Date('2026-03-01T12:00:00Z')
const base: SendEmail = {
  from: 'ann@shop.example',
  to: 'bob@example.com',
  subject: 'Hi',
  text: 'x',
}

function codeOf(change: Partial<SendEmail>): string | undefined {
  try {
    validateEmail({ ...base, ...change }, limits, now)
    return undefined
  } catch (err) {
    if (err instanceof AppError) return err.code
    throw err
  }
}

describe('validateEmail', () => {
  it('accepts one address or a list, and lists each recipient once in to, cc, bcc order', () => {
    const email = validateEmail(
      {
        ...base,
        to: ['Bob <BOB@Example.com>', 'carol@example.com'],
        cc: 'bob@example.com',
        bcc: ['dave@example.com'],
      },
      limits,
      now,
    )
    expect(email.recipients.map((r) => [r.field, r.address])).toEqual([
      ['to', 'BOB@Example.com'],
      ['to', 'carol@example.com'],
      ['bcc', 'dave@example.com'],
    ])
    expect(email.stream).toBe('transactional')
  })

  it.each<[string, string | undefined, Partial<SendEmail>]>([
    ['a display name with a comma', undefined, { from: '"Doe, Jane" <jane@shop.example>' }],
    ['a group as sender', 'INVALID_ADDRESS', { from: 'team: a@b.example, c@d.example;' }],
    ['a Unicode line separator in the subject', 'INVALID_HEADER', { subject: 'a\u2028b' }],
    ['a tab in a header value', undefined, { headers: { 'X-Note': 'a\tb' } }],
    ['Reply-To as a header', 'HEADER_NOT_ALLOWED', { headers: { 'Reply-To': 'x@y.example' } }],
    [
      'an X-Outbound- header',
      'HEADER_NOT_ALLOWED',
      { headers: { 'X-Outbound-Message-Id': 'forged' } },
    ],
    ['a 999-character header value', 'INVALID_HEADER', { headers: { 'X-Long': 'v'.repeat(999) } }],
    [
      'base64 with line breaks',
      undefined,
      { attachments: [{ filename: 'a.txt', content: 'aGVs\r\nbG8=' }] },
    ],
    [
      'base64 with bad padding',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a.txt', content: 'aGVsbG8' }] },
    ],
    [
      'a content type that is not a MIME type',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a', content: '', contentType: 'pdf' }] },
    ],
    [
      '21 attachments',
      'TOO_MANY_ATTACHMENTS',
      { attachments: Array(21).fill({ filename: 'a', content: '' }) },
    ],
    // Each of these reached the headers of the sent message before (bidi spoofing, C1 controls).
    [
      'a right-to-left override in a filename',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'invoice\u202egpj.exe', content: '' }] },
    ],
    [
      'a tab in a filename',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a\tb.txt', content: '' }] },
    ],
    [
      'an isolate in a filename',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a\u2066b.txt', content: '' }] },
    ],
    ['a C1 control in the subject', 'INVALID_HEADER', { subject: 'a\u0085b' }],
    ['a right-to-left mark in the subject', 'INVALID_HEADER', { subject: 'a\u200fb' }],
    [
      'an Arabic letter mark in a header value',
      'INVALID_HEADER',
      { headers: { 'X-A': 'a\u061cb' } },
    ],
    ['an override in a header value', 'INVALID_HEADER', { headers: { 'X-A': 'a\u202db' } }],
    ['an isolate in the from name', 'INVALID_ADDRESS', { from: '"Ann\u2067" <ann@shop.example>' }],
    ['an override in a to name', 'INVALID_ADDRESS', { to: ['"Bob\u202e" <bob@example.com>'] }],
    ['an isolate in a cc name', 'INVALID_ADDRESS', { cc: '"C\u2069" <c@example.com>' }],
    ['an isolate in a bcc name', 'INVALID_ADDRESS', { bcc: '"D\u2068" <d@example.com>' }],
    ['an Arabic letter mark in replyTo', 'INVALID_ADDRESS', { replyTo: '"R\u061c" <r@e.example>' }],
    ['a line separator in a to name', 'INVALID_ADDRESS', { to: '"B\u2028" <b@example.com>' }],
    [
      'Arabic and Hebrew text in a subject and a name',
      undefined,
      {
        subject: 'مرحبا שלום',
        from: '"شركة" <ann@shop.example>',
      },
    ],
    [
      'base64 with a character outside the alphabet',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a.txt', content: 'aGVs-G8=' }] },
    ],
    [
      'base64 with data after the padding',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a.txt', content: 'aG==bG8=' }] },
    ],
    [
      'base64 with three padding characters',
      'INVALID_ATTACHMENT',
      { attachments: [{ filename: 'a.txt', content: 'a===' }] },
    ],
    ['a body over the limit', 'PAYLOAD_TOO_LARGE', { text: 'x'.repeat(limits.bodyBytes + 1) }],
    ['a scheduledAt with an offset', undefined, { scheduledAt: '2026-03-02T09:00:00+01:00' }],
    [
      'a scheduledAt on 30 February',
      'INVALID_SCHEDULED_AT',
      { scheduledAt: '2026-02-30T09:00:00Z' },
    ],
  ])('%s → %s', (_what, code, change) => {
    expect(codeOf(change)).toBe(code)
  })

  it('treats a scheduledAt in the past as now', () => {
    expect(
      validateEmail({ ...base, scheduledAt: '2026-03-01T11:00:00Z' }, limits, now).scheduledAt,
    ).toBeNull()
  })

  // A regex over the whole payload overflowed the stack above ~3.1 MiB: a 500 instead of a 202.
  it('accepts attachments up to the limit and refuses one byte more with PAYLOAD_TOO_LARGE', () => {
    const content = Buffer.alloc(limits.attachmentBytes, 7).toString('base64')
    const email = validateEmail(
      {
        ...base,
        attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', content }],
      },
      limits,
      now,
    )
    expect(email.content.attachments[0]?.content).toBe(content)
    const over = Buffer.alloc(limits.attachmentBytes + 1, 7).toString('base64')
    expect(codeOf({ attachments: [{ filename: 'big.bin', content: over }] })).toBe(
      'PAYLOAD_TOO_LARGE',
    )
  })

  it('names the attachment field that is wrong', () => {
    const attachments = [
      { filename: 'a.txt', content: 'aGk=' },
      { filename: 'b.txt', content: 'not base64' },
    ]
    expect(() => validateEmail({ ...base, attachments }, limits, now)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ATTACHMENT',
        details: { field: 'attachments[1].content' },
      }),
    )
  })

  it('strips the line breaks of MIME-style base64', () => {
    const email = validateEmail(
      { ...base, attachments: [{ filename: 'a.txt', content: 'aGVs\r\nbG8=' }] },
      limits,
      now,
    )
    expect(email.content.attachments[0]?.content).toBe('aGVsbG8=')
  })
})
