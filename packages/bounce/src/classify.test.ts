import { describe, expect, it } from 'vitest'
import { classifyFailure, enhancedCodeOf, retryHintSeconds } from './classify.js'

const reply = (text: string) => ({
  smtpCode: Number(/^\d{3}/.exec(text)?.[0] ?? 0) || null,
  enhancedCode: null,
  text,
})

describe('classifyFailure: SMTP replies from real servers', () => {
  it.each<[string, string, string, boolean, string]>([
    // reply, reason, kind, permanent, rule
    [
      '550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
      'user_unknown',
      'hard',
      true,
      'mailbox-unknown',
    ],
    [
      "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address",
      'user_unknown',
      'hard',
      true,
      'mailbox-unknown',
    ],
    [
      '550 5.2.1 The email account that you tried to reach is disabled.',
      'user_unknown',
      'hard',
      true,
      'mailbox-disabled',
    ],
    ['550 No such user here', 'user_unknown', 'hard', true, 'user-unknown-text'],
    [
      '550 Requested action not taken: mailbox unavailable',
      'user_unknown',
      'hard',
      true,
      'user-unknown-text',
    ],
    [
      '550 5.1.2 Host unknown (Name server: nowhere.invalid: host not found)',
      'host_unknown',
      'hard',
      true,
      'host-unknown',
    ],
    [
      '552 5.2.2 The email account that you tried to reach is over quota',
      'mailbox_full',
      'soft',
      true,
      'mailbox-full',
    ],
    ['452 4.2.2 Mailbox full', 'mailbox_full', 'soft', false, 'mailbox-full'],
    [
      '552 5.3.4 Message size exceeds fixed limit',
      'message_too_big',
      'soft',
      true,
      'message-too-big',
    ],
    [
      '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
      'spam',
      'soft',
      true,
      'spam-policy',
    ],
    // Broke: the user-unknown text rule ran before the policy code, so this was a hard bounce.
    [
      '550 5.7.1 <ann@example.com>: Recipient address rejected: Access denied',
      'policy',
      'soft',
      true,
      'policy',
    ],
    // Broke: "Recipient address rejected" alone was read as an unknown user.
    [
      '550 5.4.1 <ann@example.com>: Recipient address rejected: Access denied',
      'policy',
      'soft',
      true,
      'access-denied-text',
    ],
    [
      '553 5.1.0 SMTP error from remote mail server after MAIL FROM:<bounce@shop.example>: sender rejected',
      'policy',
      'soft',
      true,
      'sender-refused-text',
    ],
    [
      '550 User some.name (ann@example.com) not listed in Domino Directory',
      'user_unknown',
      'hard',
      true,
      'user-unknown-text',
    ],
    ['554 Spam detected, message rejected', 'spam', 'soft', true, 'spam-text'],
    // Broke: a URI block list was read as a policy refusal, not spam (BounceParser's corpus).
    ['550 5.7.1 Your email breaches local URIBL policy.', 'spam', 'soft', true, 'spam-policy'],
    // Broke: these unknown or closed mailboxes were "other"/soft (BounceParser's corpus).
    [
      '551 <ann@example.com> is a deactivated mailbox',
      'user_unknown',
      'hard',
      true,
      'user-unknown-text',
    ],
    [
      '550-<ann@example.com> is not a known user on this system; 550 see http://www.example.net/bounce.html',
      'user_unknown',
      'hard',
      true,
      'user-unknown-text',
    ],
    [
      '550 ** No mail box available for this user **',
      'user_unknown',
      'hard',
      true,
      'user-unknown-text',
    ],
    [
      "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
      'policy',
      'soft',
      true,
      'policy',
    ],
    ['554 5.7.1 <ann@example.com>: Relay access denied', 'policy', 'soft', true, 'policy'],
    [
      '421 4.7.28 Our system has detected an unusual rate of unsolicited mail',
      'rate_limited',
      'soft',
      false,
      'rate-limited',
    ],
    ['451 4.7.1 Greylisted, please try again in 5 minutes', 'policy', 'soft', false, 'policy'],
    [
      '450 Too many connections from your IP, slow down',
      'rate_limited',
      'soft',
      false,
      'rate-limited-text',
    ],
    ['451 4.3.0 Temporary local problem', 'temporary', 'soft', false, 'temporary'],
    [
      '421 Service not available, closing transmission channel',
      'temporary',
      'soft',
      false,
      'temporary',
    ],
    ['550 Message rejected', 'other', 'soft', true, 'other'],
  ])('%s', (text, reason, kind, permanent, rule) => {
    expect(classifyFailure(reply(text))).toEqual({ reason, kind, permanent, rule })
  })
})

describe('classifyFailure: the enhanced code decides before the text', () => {
  it.each<[string, string | null, string, string, string]>([
    // text, enhanced code, action, reason, rule
    // Broke: the sender's refused domain read as an unknown recipient ("No such domain").
    ['550 5.1.7 No such domain example.org', null, 'failed', 'policy', 'sender-address'],
    // Broke: a Status of 4.0.0 with Action failed was read as expired, though the domain has a Null MX.
    [
      "DNS Error: The domain example.org doesn't receive email according to the administrator: returned Null MX",
      '4.0.0',
      'failed',
      'host_unknown',
      'null-mx',
    ],
    ['451 4.4.1 Connection timed out', '4.4.1', 'failed', 'expired', 'gave-up'],
    // Broke: code-less host-not-found reports were "other"/soft (Courier, Sendmail).
    ['No such domain.', '5.0.0', 'failed', 'host_unknown', 'host-unknown-text'],
    [
      '550 Host unknown (Name server: nowhere.example: host not found)',
      null,
      'failed',
      'host_unknown',
      'host-unknown-text',
    ],
    // Broke: code-less over-quota reports were "other" (newmail.ru's qmail, HotPOP).
    [
      "This person's account is exceeding their quota.",
      null,
      'failed',
      'mailbox_full',
      'mailbox-full-text',
    ],
    [
      'The email you sent to the address specified above has been returned because the recipient is over disk quota.',
      null,
      'failed',
      'mailbox_full',
      'mailbox-full-text',
    ],
    // Broke: expiry reports were not recognised (Exim).
    ['mailbox is full: retry timeout exceeded', '5.0.0', 'failed', 'expired', 'expired-text'],
    [
      'SMTP error from remote mail server after MAIL FROM:<us@shop.example>: 550 Unroutable sender address',
      null,
      'failed',
      'policy',
      'sender-refused-text',
    ],
    [
      '550 5.2.3 message too large for this recipient',
      '5.2.3',
      'failed',
      'message_too_big',
      'message-too-big',
    ],
  ])('%s', (text, enhancedCode, action, reason, rule) => {
    expect(
      classifyFailure({
        smtpCode: Number(/^[45]\d\d/.exec(text)?.[0] ?? 0) || null,
        enhancedCode,
        text,
        action,
      }),
    ).toMatchObject({ reason, rule })
  })

  // Broke: a "delayed" report with a 5.1.1 status was a hard bounce.
  it('keeps a DSN Action "delayed" soft and not permanent, whatever the status', () => {
    expect(
      classifyFailure({
        smtpCode: 550,
        enhancedCode: '5.1.1',
        text: '550 5.1.1 user unknown',
        action: 'delayed',
      }),
    ).toMatchObject({ kind: 'soft', permanent: false })
    expect(
      classifyFailure({ smtpCode: null, enhancedCode: '4.4.1', text: '', action: 'delayed' }),
    ).toMatchObject({ kind: 'soft', permanent: false })
  })
})

describe('classifyFailure: DSN statuses', () => {
  it('reads Status and Action of a delivery-status part', () => {
    expect(
      classifyFailure({
        smtpCode: null,
        enhancedCode: '5.1.1',
        text: 'smtp; 550 user unknown',
        action: 'failed',
      }),
    ).toMatchObject({
      reason: 'user_unknown',
      kind: 'hard',
      permanent: true,
    })
    expect(
      classifyFailure({ smtpCode: null, enhancedCode: '4.4.7', text: '', action: 'delayed' }),
    ).toMatchObject({
      reason: 'expired',
      kind: 'soft',
      permanent: false,
    })
    expect(
      classifyFailure({
        smtpCode: null,
        enhancedCode: '4.4.1',
        text: 'connection timed out',
        action: 'delayed',
      }),
    ).toMatchObject({
      reason: 'temporary',
      permanent: false,
    })
  })
})

describe('retryHintSeconds', () => {
  it.each<[string, number | null]>([
    ['451 4.7.1 Greylisted, please try again in 5 minutes', 300],
    ['421 Try again in 30 seconds', 30],
    ['450 please retry after 2 hours', 7200],
    ['451 temporary failure', null],
  ])('%s → %s', (text, seconds) => {
    expect(retryHintSeconds(text)).toBe(seconds)
  })
})

describe('enhancedCodeOf', () => {
  it('finds the enhanced code in a reply', () => {
    expect(enhancedCodeOf('550-5.1.1 The email account')).toBe('5.1.1')
    expect(enhancedCodeOf('550 no code')).toBeNull()
  })
})
