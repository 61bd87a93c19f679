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

  // Broke: each of these came back with no recipient, a wrong one, or one too many.
  it.each([
    // corpus fixture, the recipients it reports
    // Exchange 5.5 names the recipient in X.400 form, "…;dda:SMTP=userx@example.COM;".
    ['corpus/exchange55-03.eml', ['userx@example.com']],
    // An HTML-only Exchange 5.5 report: the Cc'd addresses it quotes are not recipients.
    ['corpus/exchange55-04.eml', ['userx@example.com']],
    // qmail's "<ann@x>:" lines, with no reason under them (Sina).
    ['corpus/sina-01.eml', ['userx@sina.com', 'usery@sina.com']],
    // "Undeliverable Address: ann@x" (HotPOP).
    ['corpus/hotpop-01.eml', ['userx@example.com']],
  ])('finds the recipients of %s', async (name, addresses) => {
    expect((await parseBounce(fixture(name)))?.recipients.map((r) => r.address)).toEqual(addresses)
  })

  // Broke: "Mailman 2.0.12" in the quoted Subject was read as a status code 2.0.12, so an unknown
  // recipient became a temporary failure.
  it('takes no status code from the header lines a report quotes (Exchange 5.5, HTML only)', async () => {
    const [recipient] = (await parseBounce(fixture('corpus/exchange55-04.eml')))?.recipients ?? []
    expect(recipient?.status).toBeNull()
    expect(
      classifyFailure({
        smtpCode: recipient?.smtpCode ?? null,
        enhancedCode: recipient?.status ?? null,
        text: recipient?.diagnostic ?? '',
        action: recipient?.action ?? null,
      }),
    ).toMatchObject({ kind: 'hard', reason: 'user_unknown' })
  })

  it('says an automatic reply is not a bounce', async () => {
    expect(await parseBounce(fixture('out-of-office.eml'))).toBeNull()
    expect(await parseBounce(Buffer.from('not an email at all'))).toBeNull()
  })
})
