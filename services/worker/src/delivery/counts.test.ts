import { describe, expect, it } from 'vitest'
import type { Recipient } from '@outbound/store'
import { outcomeCounts } from './counts.js'

const r = (
  status: Recipient['status'],
  reply: Partial<Pick<Recipient, 'smtpCode' | 'enhancedCode' | 'diagnostic'>> = {},
): Recipient => ({
  address: 'a@x.test',
  field: 'to',
  status,
  smtpCode: null,
  enhancedCode: null,
  diagnostic: null,
  ...reply,
})

const unknownUser = { smtpCode: 550, enhancedCode: '5.1.1', diagnostic: '550 5.1.1 user unknown' }
const mailboxFull = { smtpCode: 552, enhancedCode: '5.2.2', diagnostic: '552 5.2.2 mailbox full' }

describe('outcomeCounts', () => {
  it.each([
    ['a recipient sent', [r('pending')], [r('sent')], 0, { sent: 1 }],
    ['a deferred recipient sent later', [r('deferred')], [r('sent')], 0, { sent: 1 }],
    ['a recipient deferred again', [r('deferred')], [r('deferred')], 1, { deferred: 1 }],
    [
      'a hard bounce (unknown user)',
      [r('pending')],
      [r('bounced', unknownUser)],
      0,
      { 'bounced.hard': 1 },
    ],
    [
      'a soft bounce (mailbox full)',
      [r('pending')],
      [r('bounced', mailboxFull)],
      0,
      { 'bounced.soft': 1 },
    ],
    ['retries run out', [r('deferred')], [r('failed')], 0, { failed: 1 }],
    ['suppressed at the gate', [r('pending')], [r('suppressed')], 0, { suppressed: 1 }],
    ['already sent: not counted again', [r('sent')], [r('sent')], 0, {}],
    [
      'one of each',
      [r('pending'), r('pending'), r('pending')],
      [r('sent'), r('suppressed'), r('deferred')],
      1,
      { sent: 1, suppressed: 1, deferred: 1 },
    ],
  ])('%s', (_name, before, after, deferred, expected) => {
    expect(outcomeCounts(before, after, deferred)).toEqual(expected)
  })
})
