import { describe, expect, it } from 'vitest'
import { messageIndexes } from './message-index.js'

const message = {
  stream: 'mass' as const,
  request: {
    from: '"Shop" <News@Shop.example>',
    to: [],
    cc: [],
    bcc: [],
    replyTo: null,
    subject: 'Hello',
    headers: {},
    companyId: null,
    serverId: null,
    reference: 'order-1',
    tags: ['a', 'b', 'a'],
    metadata: {},
    messageIdHeader: '<x@shop.example>',
    list: 'weekly',
  },
  recipients: ['Ann@Example.com', 'ann@example.com', 'bob@example.com'].map((address) => ({
    address,
    field: 'to' as const,
    status: 'pending' as const,
    smtpCode: null,
    enhancedCode: null,
    diagnostic: null,
  })),
}

describe('messageIndexes', () => {
  it('puts a message in each filter value once, addresses in comparison form', () => {
    expect(messageIndexes(message).sort()).toEqual(
      [
        'all',
        'stream:mass',
        'from:news@shop.example',
        'to:ann@example.com',
        'to:bob@example.com',
        'tag:a',
        'tag:b',
        'reference:order-1',
        'list:weekly',
      ].sort(),
    )
  })

  it('leaves out the reference and the list when there are none', () => {
    const indexes = messageIndexes({
      ...message,
      request: { ...message.request, reference: null, list: null },
    })
    expect(
      indexes.some((index) => index.startsWith('reference:') || index.startsWith('list:')),
    ).toBe(false)
  })

  it('indexes the list of mass mail only', () => {
    const transactional = messageIndexes({ ...message, stream: 'transactional' })
    expect(transactional.some((index) => index.startsWith('list:'))).toBe(false)
  })
})
