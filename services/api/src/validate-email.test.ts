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
})
