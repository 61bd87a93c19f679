import { describe, expect, it } from 'vitest'
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  deliverJobOptions,
  isDeliverJobData,
  JOB_ADDRESSES_MAX,
  queuePrefix,
} from './queues.js'

describe('DEFAULT_RETRY_SCHEDULE_SECONDS', () => {
  it('spreads the default schedule over about a day', () => {
    const totalHours = DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0) / 3600
    expect(totalHours).toBeGreaterThan(20)
    expect(totalHours).toBeLessThan(26)
  })
})

describe('deliverJobOptions', () => {
  it('uses the message id as job id and delays only a scheduled message', () => {
    expect(deliverJobOptions('msg_1', 0)).toMatchObject({ jobId: 'msg_1' })
    expect(deliverJobOptions('msg_1', 0)).not.toHaveProperty('delay')
    expect(deliverJobOptions('msg_1', 5000)).toMatchObject({ delay: 5000 })
  })
})

describe('queuePrefix', () => {
  it('hash-tags the prefix so every queue key lands in one cluster slot', () => {
    expect(queuePrefix()).toBe('outbound:{queues}')
  })
})

describe('isDeliverJobData', () => {
  it('accepts { messageId } with the optional suppression hint, ignoring fields it does not know', () => {
    expect(isDeliverJobData({ messageId: 'msg_1' })).toBe(true)
    expect(isDeliverJobData({ messageId: 'msg_1', addresses: ['a@x.test'], list: 'news' })).toBe(
      true,
    )
    expect(isDeliverJobData({ messageId: 'msg_1', extra: 1 })).toBe(true)
    expect(isDeliverJobData({ messageId: 1 })).toBe(false)
    expect(isDeliverJobData({ messageId: 'msg_1', addresses: [''] })).toBe(false)
    expect(
      isDeliverJobData({
        messageId: 'msg_1',
        addresses: Array.from({ length: JOB_ADDRESSES_MAX + 1 }, (_, i) => `a${i}@x.test`),
      }),
    ).toBe(false)
    expect(isDeliverJobData({})).toBe(false)
  })
})
