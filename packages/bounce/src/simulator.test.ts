import { describe, expect, it } from 'vitest'
import { simulatedOutcome, simulatedRefusal } from './simulator.js'

describe('simulatedOutcome', () => {
  it.each([
    ['delivered@simulator.test', 'delivered'],
    ['Bounce@Simulator.Test', 'bounce'],
    ['defer@simulator.test', 'defer'],
    ['complaint@simulator.test', 'complaint'],
    ['suppressed@simulator.test', 'suppressed'],
    ['someone@simulator.test', null],
    ['bounce@simulator.test.example.com', null],
    ['bounce@example.com', null],
    ['no-at-sign', null],
  ] as const)('%s acts out %s', (address, expected) => {
    expect(simulatedOutcome(address)).toBe(expected)
  })
})

describe('simulatedRefusal', () => {
  it.each([
    ['bounce', false, 550],
    ['bounce', true, 550],
    ['defer', false, 451],
    ['defer', true, null],
    ['delivered', false, null],
    ['complaint', false, null],
    [null, false, null],
  ] as const)('%s (deferred before: %s) is answered %s', (outcome, deferredBefore, code) => {
    expect(simulatedRefusal(outcome, deferredBefore)?.code ?? null).toBe(code)
  })

  it('gives the enhanced codes of the contract', () => {
    expect(simulatedRefusal('bounce', false)?.response).toMatch(/^550 5\.1\.1 /)
    expect(simulatedRefusal('defer', false)?.response).toMatch(/^451 4\.7\.1 /)
  })
})
