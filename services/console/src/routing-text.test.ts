import { describe, expect, it } from 'vitest'
import { explainRouting } from './routing-text.js'

describe('the routing explanation', () => {
  it.each([
    ['forced-server', 'Forced: the request named its server'],
    ['mass-dedicated-server', "Forced: the mass stream's dedicated server"],
    ['sender-address', "Step 1 of 5: the sender's address matched a from filter"],
    ['sender-domain', "Step 1 of 5: the sender's domain matched a from filter"],
    ['notification-address', 'Step 2 of 5: the notification address matched a from filter'],
    ['notification-domain', "Step 2 of 5: the notification address's domain matched a from filter"],
    [
      'server-without-filter',
      'Step 3 of 5: no filter matched; the first server without a from filter',
    ],
    ['first-server', 'Step 4 of 5: no filter matched; the first server of all'],
    ['default-server', 'Step 5 of 5: no servers are configured; the built-in default server'],
  ])('names step %s of the waterfall', (step, headline) => {
    const explained = explainRouting(
      { step, reason: 'why' },
      { serverId: 'srv_1', serverName: 'A' },
    )
    expect(explained?.headline.startsWith(headline)).toBe(true)
    expect(explained?.server).toBe('A')
    expect(explained?.reason).toBe('why')
    expect(explained?.failover).toBeNull()
  })

  it('says when the message left through another server, and why', () => {
    const explained = explainRouting(
      {
        step: 'server-without-filter',
        reason:
          'no filter matches the sender or the notification address; A has no from filter (failover: A is down (refused))',
      },
      { serverId: 'srv_2', serverName: 'B' },
    )
    expect(explained?.failover).toBe('A is down (refused)')
    expect(explained?.server).toBe('B')
  })

  it('names the server by id without a name, the built-in default server without an id', () => {
    expect(
      explainRouting({ step: 'first-server', reason: '' }, { serverId: 'srv_9' })?.server,
    ).toBe('srv_9')
    expect(explainRouting({ step: 'default-server', reason: '' }, { serverId: null })?.server).toBe(
      'the built-in default server',
    )
    expect(
      explainRouting({ step: 'something-new', reason: 'r' }, { serverId: null })?.headline,
    ).toBe('Routing step "something-new"')
    expect(explainRouting(null, { serverId: null })).toBeNull()
  })
})
