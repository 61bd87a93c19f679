import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseBounce, parseComplaint } from '@outbound/bounce'

// Real feedback reports; fixtures/arf/README.md says where each comes from.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'arf', name))

describe('parseComplaint on real feedback reports', () => {
  it.each([
    [
      'rfc5965-example.eml',
      {
        feedbackType: 'abuse',
        recipient: 'user@example.com',
        messageId: null,
        originalMessageIdHeader: '8787KJKJ3K4J3K4J3K4J3.mail@example.net',
        reportingMta: 'mail.example.com',
        userAgent: 'SomeGenerator/1.0',
        arrivalDate: 'Thu, 8 Mar 2005 14:00:00 EDT',
        sourceIp: '192.0.2.1',
      },
    ],
    [
      'microsoft-jmrp.eml',
      {
        feedbackType: 'abuse',
        recipient: 'recipient@hotmail.com',
        messageId: null,
        originalMessageIdHeader: '<d4cb0d6593464552a34f4429b3e7f92f@example.com>',
        reportingMta: null,
        userAgent: null,
        arrivalDate: null,
        sourceIp: '123.123.123.123',
      },
    ],
    [
      'netease-auth-failure.eml',
      {
        feedbackType: 'auth-failure',
        recipient: 'kijitora@example.org',
        messageId: null,
        originalMessageIdHeader: '<000000000.2222222.0000000000002@example.net>',
        reportingMta: null,
        userAgent: 'NtesDmarcReporter/1.0',
        arrivalDate: 'Thu, 29 Apr 2015 23:34:45 +0900',
        sourceIp: '203.0.113.2',
      },
    ],
    [
      'terra-returnpath.eml',
      {
        feedbackType: 'abuse',
        recipient: null,
        messageId: null,
        originalMessageIdHeader: '<f6fbba8a761ce682e1b00a323a21b372@example.net>',
        reportingMta: null,
        userAgent: 'ReturnPathFBL/1.0',
        arrivalDate: 'Fri, 12 Dec 2014 13:09:00 +0000',
        sourceIp: '192.0.2.8',
      },
    ],
    [
      'abusix-spamtrap.eml',
      {
        feedbackType: 'abuse',
        recipient: 'kijitora@example.com',
        messageId: null,
        originalMessageIdHeader: '<EEEEEEEE-0000-0000-0000-EEEEEEEE2222@example.net>',
        reportingMta: null,
        userAgent: 'abusix-py/0.1',
        arrivalDate: 'Thu, 29 Apr 2016 23:34:45 +0000',
        sourceIp: '192.0.2.3',
      },
    ],
    [
      'aol-redacted.eml',
      {
        feedbackType: 'abuse',
        // Redacted by AOL: the original's To is a placeholder, not the complainant.
        recipient: null,
        messageId: null,
        originalMessageIdHeader: '<1283450583.6569568232097351@mf12.sendgrid.net>',
        reportingMta: null,
        userAgent: 'AOL SComp',
        arrivalDate: 'Thu,  2 Sep 2010 15:12:11 -0400 (EDT)',
        sourceIp: '74.63.231.149',
      },
    ],
  ])('%s', async (name, expected) => {
    expect(await parseComplaint(fixture(name))).toEqual(expected)
  })

  it('finds our message by X-Outbound-Message-Id in the original, else by our Message-ID', async () => {
    const withHeader = fixture('rfc5965-example.eml')
      .toString('utf8')
      .replace(
        'Subject: Earn money',
        'X-Outbound-Message-Id: msg_01ARFHEADER0000000000000\nSubject: Earn money',
      )
    expect((await parseComplaint(Buffer.from(withHeader)))?.messageId).toBe(
      'msg_01ARFHEADER0000000000000',
    )
    // The Yahoo shape: only the original's headers, as text/rfc822-headers.
    const withMessageId = fixture('netease-auth-failure.eml')
      .toString('utf8')
      .replace(
        '<000000000.2222222.0000000000002@example.net>',
        '<msg_01ARFMESSAGEID00000000000@mail.shop.example>',
      )
    expect(await parseComplaint(Buffer.from(withMessageId))).toMatchObject({
      messageId: 'msg_01ARFMESSAGEID00000000000',
      originalMessageIdHeader: '<msg_01ARFMESSAGEID00000000000@mail.shop.example>',
    })
  })

  it('says a bounce or an automatic reply is not a complaint', async () => {
    const corpus = join(import.meta.dirname, 'fixtures', 'corpus')
    for (const name of ['postfix-02.eml', 'exim-02.eml', 'autoreply-rfc3834-01.eml']) {
      expect(await parseComplaint(readFileSync(join(corpus, name)))).toBeNull()
    }
    expect(await parseComplaint(Buffer.from('not an email at all'))).toBeNull()
  })
})

describe('parseBounce on feedback reports', () => {
  it.each([
    'rfc5965-example.eml',
    'microsoft-jmrp.eml',
    'netease-auth-failure.eml',
    'terra-returnpath.eml',
    'abusix-spamtrap.eml',
    'aol-redacted.eml',
  ])('%s is not a bounce', async (name) => {
    expect(await parseBounce(fixture(name))).toBeNull()
  })
})

describe('the feedback report manifest', () => {
  const dir = join(import.meta.dirname, 'fixtures', 'arf')
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    reports: { file: string; licence: string; feedbackType: string; recipient: string | null }[]
  }

  it('names every report with its licence', () => {
    const files = readdirSync(dir).filter((name) => name.endsWith('.eml'))
    expect(manifest.reports.map((r) => r.file).sort()).toEqual(files.sort())
    for (const report of manifest.reports) expect(report.licence).not.toBe('')
  })

  it.each(manifest.reports.map((r) => [r.file, r] as const))(
    '%s reads as the manifest says',
    async (file, report) => {
      expect(await parseComplaint(fixture(file))).toMatchObject({
        feedbackType: report.feedbackType,
        recipient: report.recipient,
      })
    },
  )
})
