/** The reasons DOMAIN.md §7 gives a failure. */
export const BOUNCE_REASONS = [
  'user_unknown',
  'host_unknown',
  'mailbox_full',
  'message_too_big',
  'policy',
  'spam',
  'rate_limited',
  'expired',
  'temporary',
  'other',
] as const
export type BounceReason = (typeof BOUNCE_REASONS)[number]

/** What a failure means for the recipient. */
export type Classification = {
  reason: BounceReason
  /** A 5xx reply or a 5.x.x status: retrying the same message would fail again. */
  permanent: boolean
  /** hard only when the address itself is bad; everything else is soft. */
  kind: 'hard' | 'soft'
  /** The rule of RULES that matched. */
  rule: string
}

/** A reply or a DSN status to classify. */
export type Failure = {
  /** The SMTP reply code (550), when there is one. */
  smtpCode: number | null
  /** The enhanced status code (5.1.1), from the reply or the DSN's Status field. */
  enhancedCode: string | null
  /** The server's text or the DSN's Diagnostic-Code. */
  text: string
  /** The DSN's Action (failed, delayed), when classifying a DSN. */
  action?: string | null
}

type Rule = {
  name: string
  /** The reply or status this rule was written for (RFC 3463 or an MTA's wording). */
  example: string
  reason: BounceReason
  /** The enhanced code must match (class digit replaced by x) … */
  enhanced?: RegExp
  /** … and the text must match; a rule with both needs both. */
  text?: RegExp
  /**
   * Only for this class of failure; `gave-up`: a DSN Action "failed" with a 4.x.x status, an MTA
   * that retried until it gave up (RFC 3464).
   */
  when?: 'permanent' | 'temporary' | 'gave-up'
}

// "550 5.7.1 Your email breaches local URIBL policy": a URI block list, a spam filter.
const SPAM_TEXT =
  /spam|blacklist|blocklist|block ?list|(?<!not )listed (at|on|in)|reputation|junk|banned sending ip|\bUBE\b|bulk e-?mail|blocked using|\bdnsbl\b|\buribl\b/i
const RATE_TEXT =
  /too many|rate ?limit|throttl|slow down|try again later|temporarily deferred|frequency limit/i

// First match wins. The enhanced code decides first: `x.1.1` is more reliable than words. Then a
// policy code (x.7.x) keeps the failure about the sender (policy, spam, rate), whatever the text
// says of the recipient ("550 5.7.1 <x>: Recipient address rejected: Access denied" is Postfix
// refusing the sender, not an unknown user). Texts decide only where the code says nothing more
// specific (none, or x.0.0 / x.1.0 / x.4.1 …).
export const RULES: readonly Rule[] = [
  {
    name: 'null-mx',
    example:
      "Status: 4.0.0 / The domain example.org doesn't receive email according to the administrator: returned Null MX",
    reason: 'host_unknown',
    text: /\bnull mx\b/i,
  },
  {
    name: 'gave-up',
    example: 'Action: failed / Status: 4.4.1 (retried until the queue lifetime ran out)',
    reason: 'expired',
    when: 'gave-up',
  },
  {
    name: 'mailbox-unknown',
    example: '550 5.1.1 <ann@x>: Recipient address rejected: User unknown',
    reason: 'user_unknown',
    enhanced: /^x\.1\.(1|10|3)$/,
  },
  {
    name: 'mailbox-moved',
    example: '551 5.1.6 Recipient address has changed / 550 5.1.6 recipient no longer on server',
    reason: 'user_unknown',
    enhanced: /^x\.1\.6$/,
  },
  {
    name: 'mailbox-disabled',
    example: '550 5.2.1 The email account that you tried to reach is disabled',
    reason: 'user_unknown',
    enhanced: /^x\.2\.1$/,
    when: 'permanent',
  },
  {
    name: 'host-unknown',
    example: '550 5.1.2 Host unknown (Name server: example.invalid: host not found)',
    reason: 'host_unknown',
    enhanced: /^x\.(1\.2|4\.4)$/,
    when: 'permanent',
  },
  {
    name: 'sender-address',
    example:
      "550 5.1.7 No such domain (our sender's) / 553 5.1.8 Sender address domain does not exist",
    reason: 'policy',
    enhanced: /^x\.1\.(7|8)$/,
  },
  {
    name: 'mailbox-full',
    example: '552 5.2.2 Mailbox full / 452 4.2.2 Over quota',
    reason: 'mailbox_full',
    enhanced: /^x\.2\.2$/,
  },
  {
    name: 'message-too-big',
    example: '552 5.3.4 Message size exceeds fixed limit',
    reason: 'message_too_big',
    enhanced: /^x\.(3\.4|2\.3)$/,
  },
  {
    name: 'expired',
    example: 'Status: 4.4.7 (Action: failed, delivery time expired)',
    reason: 'expired',
    enhanced: /^x\.4\.7$/,
  },
  {
    name: 'rate-limited',
    example: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail',
    reason: 'rate_limited',
    enhanced: /^x\.7\.28$/,
  },
  {
    name: 'spam-block',
    example:
      '550 5.7.350 Remote server returned message detected as spam / 550 5.7.606 Access denied, banned sending IP',
    reason: 'spam',
    enhanced: /^x\.7\.(350|512|708|6[0-4]\d)$/,
  },
  {
    name: 'spam-policy',
    example:
      '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
    reason: 'spam',
    enhanced: /^x\.7\.\d+$/,
    text: SPAM_TEXT,
  },
  {
    name: 'rate-limited-policy',
    example: '450 4.7.1 Too many messages from your IP, slow down',
    reason: 'rate_limited',
    enhanced: /^x\.7\.\d+$/,
    text: RATE_TEXT,
  },
  {
    name: 'policy',
    example: '550 5.7.1 <x>: Recipient address rejected: Access denied / 550 5.7.26 DMARC policy',
    reason: 'policy',
    enhanced: /^x\.7\.\d+$/,
  },
  {
    name: 'expired-text',
    example: 'retry timeout exceeded / delivery time expired / too long in queue',
    reason: 'expired',
    text: /expired|retry time(out)? (exceeded|reached)|too long in (the )?queue|could not be delivered within/i,
  },
  {
    name: 'sender-refused-text',
    example:
      'SMTP error from remote mail server after MAIL FROM:<us@x> ... / 550 5.1.0 <us@x> sender rejected',
    reason: 'policy',
    text: /after MAIL FROM|in reply to MAIL FROM|sender (address )?(rejected|refused|denied|verify failed|blocked)|unroutable sender|From:\s+Domain is invalid/i,
  },
  {
    name: 'host-unknown-text',
    example: 'Host or domain name not found. Name service error for name=example.invalid',
    reason: 'host_unknown',
    text: /host (or domain name )?not found|host unknown|unknown host|domain (not found|does not exist|unknown)|no such domain|no mx|name or service not known|unrouteable|nxdomain|unable to resolve|could not be resolved|domain is not reachable/i,
    when: 'permanent',
  },
  {
    name: 'spam-text',
    example:
      '550 Message rejected as spam / listed at zen.spamhaus.org / 550 5.7.1 Message content rejected, UBE',
    reason: 'spam',
    text: SPAM_TEXT,
  },
  {
    name: 'access-denied-text',
    example:
      '550 5.4.1 <x>: Recipient address rejected: Access denied / 554 Host network not allowed',
    reason: 'policy',
    text: /access denied|not (authori[sz]ed|permitted|allowed)|relay(ing)? (access )?(denied|not permitted)|authentication required|without authentication|reverse dns|rdns|ptr record|does not advertise AUTH/i,
  },
  {
    name: 'user-unknown-text',
    example:
      '550 No such user here / 550 Requested action not taken: mailbox unavailable / 550 Mailbox is frozen / 551 <ann@x> is a deactivated mailbox / 550-<ann@x> is not a known user on this system / 550 ** No mail box available for this user **',
    reason: 'user_unknown',
    text: /no such (user|mailbox|recipient)|user (unknown|not found|doesn't exist)|unknown (user|recipient|mailbox)|does not exist|invalid (recipient|mailbox|address)|mailbox (unavailable|not found)|no mailbox here|account (has been |is )?disabled|recipient name is not recognized|address rejected|address (couldn't|could not|can't|cannot) be found|address not found|mailbox is frozen|not listed in (the )?(Domino )?Directory|no valid recipients|no longer on server|deactivated (mailbox|account)|not a known user|no mail ?box available/i,
    when: 'permanent',
  },
  {
    name: 'mailbox-full-text',
    example:
      "452 Mailbox full / quota exceeded / the user's mailfolder is full / the recipient is over disk quota / This person's account is exceeding their quota",
    reason: 'mailbox_full',
    text: /(mailbox|mail ?folder) (is )?full|mailbox exceeds allowed size|over (disk )?quota|overquota|quota exceeded|exceeding (their |the |its )?quota|insufficient (system )?storage|out of storage/i,
  },
  {
    name: 'message-too-big-text',
    example: '552 Message size exceeds maximum permitted',
    reason: 'message_too_big',
    text: /(message|mail) (size|too (big|large))|size (limit|exceeds)|too large/i,
  },
  {
    name: 'rate-limited-text',
    example: '421 Too many connections / 550 Ip frequency limited',
    reason: 'rate_limited',
    text: RATE_TEXT,
  },
  {
    name: 'policy-text',
    example: '550 Sender verify failed / SPF fail / message not accepted for policy reasons',
    reason: 'policy',
    text: /policy|dmarc|spf|dkim/i,
  },
  {
    name: 'temporary',
    example: 'any 4xx reply or 4.x.x status',
    reason: 'temporary',
    when: 'temporary',
  },
]

// DOMAIN.md §7: hard only when the address itself is bad.
const HARD_REASONS: ReadonlySet<BounceReason> = new Set(['user_unknown', 'host_unknown'])

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/

/** The enhanced status code (2.0.0, 5.1.1) in a reply, or null. */
export function enhancedCodeOf(text: string): string | null {
  const match = ENHANCED.exec(text)
  return match === null ? null : `${match[1] ?? ''}.${match[2] ?? ''}.${match[3] ?? ''}`
}

/** A 4xx/5xx reply or DSN status: its reason, permanence and kind, and which rule said so. */
export function classifyFailure(failure: Failure): Classification {
  const enhanced = failure.enhancedCode ?? enhancedCodeOf(failure.text)
  const classDigit =
    enhanced?.[0] ?? (failure.smtpCode === null ? null : String(failure.smtpCode)[0])
  const permanent =
    failure.action?.toLowerCase() === 'delayed'
      ? false
      : classDigit === '5' || (classDigit === null && failure.action?.toLowerCase() === 'failed')
  const generic = enhanced === null ? null : `x${enhanced.slice(1)}`
  const gaveUp = failure.action?.toLowerCase() === 'failed' && classDigit === '4'
  const delayed = failure.action?.toLowerCase() === 'delayed'
  for (const rule of RULES) {
    if (rule.when === 'permanent' && !permanent) continue
    if (rule.when === 'temporary' && (permanent || gaveUp)) continue
    if (rule.when === 'gave-up' && !gaveUp) continue
    // A warning that the mailer still retries says nothing final about the address.
    if (delayed && HARD_REASONS.has(rule.reason)) continue
    const byCode = rule.enhanced === undefined || (generic !== null && rule.enhanced.test(generic))
    const byText = rule.text === undefined || rule.text.test(failure.text)
    if (byCode && byText) {
      return {
        reason: rule.reason,
        permanent,
        kind: HARD_REASONS.has(rule.reason) ? 'hard' : 'soft',
        rule: rule.name,
      }
    }
  }
  return { reason: 'other', permanent, kind: 'soft', rule: 'other' }
}

/** A wait the server asked for ("try again in 5 minutes"), in seconds; null when none. */
export function retryHintSeconds(text: string): number | null {
  const match =
    /(?:try|retry|come back)(?: again)?\s+(?:in|after)\s+(\d{1,6})\s*(s|sec|seconds?|m|min|minutes?|h|hours?)\b/i.exec(
      text,
    )
  if (match === null) return null
  const amount = Number(match[1])
  const unit = (match[2] ?? 's').toLowerCase()
  return unit.startsWith('h') ? amount * 3600 : unit.startsWith('m') ? amount * 60 : amount
}
