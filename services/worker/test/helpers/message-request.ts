import type { MessageRequest } from '@outbound/store'

/** A stored message request with every field set (`msg_1`, no extras); `over` replaces fields. */
export function messageRequest(over: Partial<MessageRequest> = {}): MessageRequest {
  return {
    from: 'news@shop.example',
    to: ['bob@example.com'],
    cc: [],
    bcc: [],
    replyTo: null,
    subject: 'Hello',
    headers: {},
    companyId: null,
    serverId: null,
    reference: null,
    tags: [],
    metadata: {},
    messageIdHeader: '<msg_1@shop.example>',
    ...over,
  }
}
