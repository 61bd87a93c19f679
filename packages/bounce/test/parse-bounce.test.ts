import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { classifyFailure, parseBounce } from '@outbound/bounce'

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name))

describe("parseBounce on real MTAs' formats", () => {
  it.each([
    // fixture, format, recipient, message id, kind, reason, permanent
    [
      'rfc3464-example.eml',
      'rfc3464',
      'louisl@larry.slip.umd.edu',
      'msg_01RFC3464EXAMPLE',
      'soft',
      'expired',
      false,
    ],
    [
      'postfix.eml',
      'rfc3464',
      'nobody@customer.example',
      'msg_01POSTFIXFIXTURE000000000',
      'hard',
      'user_unknown',
      true,
    ],
    [
      'exim.eml',
      'rfc3464',
      'old.friend@example.org',
      'msg_01EXIMFIXTURE00000000000',
      'hard',
      'user_unknown',
      true,
    ],
    [
      'exchange.eml',
      'rfc3464',
      'former.employee@contoso.example',
      'msg_01EXCHANGEFIXTURE0000000',
      'hard',
      'user_unknown',
      true,
    ],
    [
      'gmail.eml',
      'rfc3464',
      'no.such.person@gmail.com',
      'msg_01GMAILFIXTURE00000000000',
      'hard',
      'user_unknown',
      true,
    ],
    [
      'postfix-delayed.eml',
      'rfc3464',
      'slow@busy.example',
      'msg_01DELAYFIXTURE00000000000',
      'soft',
      'temporary',
      false,
    ],
    [
      'qmail-text.eml',
      'text',
      'gone@oldhost.example',
      'msg_01QMAILFIXTURE00000000000',
      'hard',
      'user_unknown',
      true,
    ],
  ])('%s', async (name, format, address, messageId, kind, reason, permanent) => {
    const bounce = await parseBounce(fixture(name))
    expect(bounce).toMatchObject({ format, messageId })
    expect(bounce?.recipients.map((r) => r.address)).toEqual([address])
    const [recipient] = bounce?.recipients ?? []
    const classification = classifyFailure({
      smtpCode: recipient?.smtpCode ?? null,
      enhancedCode: recipient?.status ?? null,
      text: recipient?.diagnostic ?? '',
      action: recipient?.action ?? null,
    })
    expect(classification).toMatchObject({ kind, reason, permanent })
  })

  it('reads folded Diagnostic-Code lines whole (Gmail)', async () => {
    const bounce = await parseBounce(fixture('gmail.eml'))
    expect(bounce?.recipients[0]?.diagnostic).toContain('double-checking the recipient')
    expect(bounce?.recipients[0]?.smtpCode).toBe(550)
  })

  it('finds the message by our Message-ID when X-Outbound-Message-Id is absent (Exchange)', async () => {
    expect((await parseBounce(fixture('exchange.eml')))?.messageId).toBe(
      'msg_01EXCHANGEFIXTURE0000000',
    )
  })

  it('says an automatic reply is not a bounce', async () => {
    expect(await parseBounce(fixture('out-of-office.eml'))).toBeNull()
    expect(await parseBounce(Buffer.from('not an email at all'))).toBeNull()
  })
})
