import { describe, expect, it } from 'vitest'
import { matchRoute, messageHref } from './routes.js'

describe('the console’s pages', () => {
  it.each([
    ['/console', { page: 'messages' }],
    ['/console/', { page: 'messages' }],
    ['/console/messages', { page: 'messages' }],
    ['/console/messages/msg_01J', { page: 'message', id: 'msg_01J' }],
    ['/console/servers', { page: 'servers' }],
    ['/console/activity/', { page: 'activity' }],
    ['/console/suppressions', { page: 'suppressions' }],
    ['/console/webhooks', { page: 'webhooks' }],
    ['/console/nope', { page: 'not-found' }],
    ['/elsewhere', { page: 'not-found' }],
  ])('%s', (path, route) => {
    expect(matchRoute(path)).toEqual(route)
  })

  it('links to a message by its id', () => {
    expect(matchRoute(messageHref('msg_a/b'))).toEqual({ page: 'message', id: 'msg_a/b' })
  })
})
