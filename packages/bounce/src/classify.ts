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
  /** Matches the enhanced code (class digit replaced by x) … */
  enhanced?: RegExp
  /** … or the text (only when the enhanced code says nothing more specific). */
  text?: RegExp
  /** Only for this class of failure. */
  when?: 'permanent' | 'temporary'
}

// First match wins. Enhanced codes are tried before texts: `x.1.1` is more reliable than words.
export const RULES: readonly Rule[] = [
  {
    name: 'mailbox-unknown',
    example: '550 5.1.1 <ann@x>: Recipient address rejected: User unknown',
    reason: 'user_unknown',
    enhanced: /^x\.1\.(1|10|3)$/,
  },
  {
    name: 'mailbox-moved',
    example: '551 5.1.6 Recipient address has changed',
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
    example: '550 5.7.350 Remote server returned message detected as spam',
    reason: 'spam',
    enhanced: /^x\.7\.(350|512|708)$/,
  },
  {
    name: 'user-unknown-text',
    example: '550 No such user here / 550 Requested action not taken: mailbox unavailable',
    reason: 'user_unknown',
    text: /no such (user|mailbox|recipient)|user (unknown|not found|doesn't exist)|unknown (user|recipient|mailbox)|does not exist|invalid (recipient|mailbox|address)|mailbox (unavailable|not found)|recipient address rejected|address rejected|no mailbox here|account (has been )?disabled/i,
    when: 'permanent',
  },
  {
    name: 'host-unknown-text',
    example: 'Host or domain name not found. Name service error for name=example.invalid',
    reason: 'host_unknown',
    text: /host (or domain name )?not found|domain (not found|does not exist)|no mx|name or service not known|unrouteable|nxdomain/i,
    when: 'permanent',
  },
  {
    name: 'mailbox-full-text',
    example: '452 Mailbox full / quota exceeded',
    reason: 'mailbox_full',
    text: /mailbox (is )?full|over ?quota|quota exceeded|insufficient (system )?storage|out of storage/i,
  },
  {
    name: 'message-too-big-text',
    example: '552 Message size exceeds maximum permitted',
    reason: 'message_too_big',
    text: /(message|mail) (size|too (big|large))|size (limit|exceeds)|too large/i,
  },
  {
    name: 'spam-text',
    example: '554 5.7.1 Message rejected as spam / listed at zen.spamhaus.org',
    reason: 'spam',
    text: /spam|blacklist|blocklist|block ?list|listed (at|on|in)|reputation|junk/i,
  },
  {
    name: 'rate-limited-text',
    example: '421 Too many connections / 450 Try again later, rate limited',
    reason: 'rate_limited',
    text: /too many|rate ?limit|throttl|slow down|try again later|temporarily deferred/i,
    when: 'temporary',
  },
  {
    name: 'policy',
    example: '550 5.7.1 Relaying denied / 550 5.7.26 DMARC policy',
    reason: 'policy',
    enhanced: /^x\.7\.\d+$/,
  },
  {
    name: 'policy-text',
    example: '550 Sender verify failed / not authorized / SPF fail',
    reason: 'policy',
    text: /policy|not (authori[sz]ed|permitted|allowed)|relay(ing)? (denied|not permitted)|dmarc|spf|dkim|authentication required/i,
  },
  {
    name: 'expired-text',
    example: 'delivery time expired / retry timeout exceeded',
    reason: 'expired',
    text: /expired|retry time(out)? (exceeded|reached)|too long in queue/i,
  },
  {
    name: 'temporary',
    example: 'any 4xx reply or 4.x.x status',
    reason: 'temporary',
    when: 'temporary',
  },
]

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
  // RFC 3464: Action "failed" with a 4.x.x status is an MTA that retried until it gave up.
  if (failure.action?.toLowerCase() === 'failed' && classDigit === '4') {
    return { reason: 'expired', permanent: false, kind: 'soft', rule: 'gave-up' }
  }
  for (const rule of RULES) {
    if (rule.when === 'permanent' && !permanent) continue
    if (rule.when === 'temporary' && permanent) continue
    const byCode = rule.enhanced !== undefined && generic !== null && rule.enhanced.test(generic)
    const byText = rule.text !== undefined && rule.text.test(failure.text)
    const catchAll = rule.enhanced === undefined && rule.text === undefined
    if (byCode || byText || catchAll) {
      return {
        reason: rule.reason,
        permanent,
        kind: rule.reason === 'user_unknown' || rule.reason === 'host_unknown' ? 'hard' : 'soft',
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
