import { describe, expect, it } from 'vitest'
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  deliverJobOptions,
  isDeliverJobData,
  queuePrefix,
  retryDelayMs,
} from './queues.js'

describe('retryDelayMs', () => {
  it('follows the schedule and ends with it', () => {
    expect(retryDelayMs([60, 300], 1)).toBe(60_000)
    expect(retryDelayMs([60, 300], 2)).toBe(300_000)
    expect(retryDelayMs([60, 300], 3)).toBeUndefined()
  })

  it('spreads the default schedule over about a day', () => {
    const totalHours = DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0) / 3600
    expect(totalHours).toBeGreaterThan(20)
    expect(totalHours).toBeLessThan(26)
  })
})

describe('deliverJobOptions', () => {
  it('uses the message id as job id and allows one attempt more than the schedule has retries', () => {
    expect(deliverJobOptions('msg_1', 0, [60, 300])).toMatchObject({ jobId: 'msg_1', attempts: 3 })
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
  it('accepts { messageId } only', () => {
    expect(isDeliverJobData({ messageId: 'msg_1' })).toBe(true)
    expect(isDeliverJobData({ messageId: 'msg_1', extra: 1 })).toBe(false)
    expect(isDeliverJobData({})).toBe(false)
  })
})
