import { describe, expect, it } from 'vitest'
import { bounceDecision } from './bounce-decision.js'

const base = {
  id: 'bnc_1',
  messageId: 'msg_1',
  address: 'ann@example.com',
  source: 'smtp' as const,
  at: new Date('2026-06-01T00:00:00Z'),
  history: [],
  hardAfter: 1,
}

describe('bounceDecision', () => {
  it('records a hard bounce and suppresses the address at once (bounceSuppressAfter 1)', () => {
    const decision = bounceDecision({
      ...base,
      failure: { smtpCode: 550, enhancedCode: '5.1.1', text: '550 5.1.1 user unknown' },
    })
    expect(decision.record).toMatchObject({
      kind: 'hard',
      permanent: true,
      reason: 'user_unknown',
      rule: 'mailbox-unknown',
    })
    expect(decision.suppression).toMatchObject({
      address: 'ann@example.com',
      reason: 'hard bounce',
      source: 'bounce',
    })
  })

  it('records a soft bounce without suppressing', () => {
    const decision = bounceDecision({
      ...base,
      failure: { smtpCode: 552, enhancedCode: '5.2.2', text: 'mailbox full' },
    })
    expect(decision.record).toMatchObject({ kind: 'soft', permanent: true, reason: 'mailbox_full' })
    expect(decision.suppression).toBeNull()
  })
})
