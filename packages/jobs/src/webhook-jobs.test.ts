import { describe, expect, it } from 'vitest'
import {
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
  webhookJobOptions,
  webhookRetryDelayMs,
} from './webhook-jobs.js'

describe('webhookRetryDelayMs', () => {
  it.each([
    [1, 5_000],
    [2, 300_000],
    [3, 1_800_000],
    [4, 7_200_000],
    [5, 18_000_000],
    [6, 36_000_000],
    [7, 36_000_000],
    [8, -1],
  ])('after %i failed attempts waits %i ms', (attemptsMade, delay) => {
    expect(webhookRetryDelayMs(attemptsMade, DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS)).toBe(delay)
  })
})

describe('webhookJobOptions', () => {
  it('makes one job per event and endpoint, with an attempt at once and one per delay', () => {
    const options = webhookJobOptions('evt_1', 'wh_1', DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS)
    expect(options.jobId).toBe('evt_1.wh_1')
    expect(options.attempts).toBe(8)
    expect(webhookJobOptions('evt_1', 'wh_1', [1], 'r1').jobId).toBe('evt_1.wh_1.r1')
  })
})
