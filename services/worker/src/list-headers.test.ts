import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { openUnsubscribeToken, unsubscribeKey } from '@outbound/secrets'
import type { ClaimedMessage } from '@outbound/store'
import { listHeaders } from './list-headers.js'
import { messageRequest } from '../test/helpers/message-request.js'

const tokenKey = unsubscribeKey(randomBytes(32))
const settings = { publicUrl: 'https://mail.shop.example', tokenKey }

function message(over: Partial<ClaimedMessage['request']> = {}, recipients = ['Bob@Example.com']) {
  return {
    id: 'msg_1',
    stream: 'mass' as const,
    request: messageRequest({ to: recipients, subject: 's', list: 'weekly', ...over }),
    recipients: recipients.map((address) => ({
      address,
      field: 'to' as const,
      status: 'pending' as const,
      smtpCode: null,
      enhancedCode: null,
      diagnostic: null,
    })),
  }
}

const values = (headers: Record<string, { value: string }>) =>
  Object.fromEntries(Object.entries(headers).map(([name, header]) => [name, header.value]))

describe('listHeaders', () => {
  it('gives a mass message List-Id and a one-click link whose token opens to its recipient', () => {
    const { headers, warnings } = listHeaders(message(), '"News" <news@shop.example>', settings)
    expect(warnings).toEqual([])
    const found = values(headers)
    expect(found['List-Id']).toBe('"weekly" <weekly.shop.example>')
    expect(found['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click')
    const link = /^<https:\/\/mail\.shop\.example\/unsubscribe\/([A-Za-z0-9_-]+)>$/.exec(
      found['List-Unsubscribe'] ?? '',
    )
    expect(openUnsubscribeToken(link?.[1] ?? '', [tokenKey])).toEqual({
      messageId: 'msg_1',
      recipientIndex: 0,
      list: 'weekly',
      domain: 'shop.example',
      address: 'bob@example.com',
    })
  })

  it('gives transactional mail nothing', () => {
    const transactional = { ...message(), stream: 'transactional' as const }
    expect(listHeaders(transactional, 'news@shop.example', settings)).toEqual({
      headers: {},
      warnings: [],
    })
  })

  it("keeps the caller's own List-Unsubscribe and List-Id, and makes no token then", () => {
    const own = message({
      headers: { 'list-unsubscribe': '<mailto:x@shop.example>', 'List-Id': '<mine.shop.example>' },
    })
    expect(listHeaders(own, 'news@shop.example', settings)).toEqual({ headers: {}, warnings: [] })
  })

  it('writes a list-id label that is a dot-atom whatever dots the list name holds', () => {
    const { headers } = listHeaders(message({ list: '..a..b.' }), 'n@shop.example', settings)
    expect(headers['List-Id']?.value).toBe('"..a..b." <a.b.shop.example>')
    expect(
      listHeaders(message({ list: null }), 'n@shop.example', settings).headers['List-Id']?.value,
    ).toBe('"default" <default.shop.example>')
  })

  it('says why there is no link: no PUBLIC_URL, no secret key, several recipients', () => {
    const cases = [
      [message(), { publicUrl: undefined, tokenKey }, 'PUBLIC_URL is not set'],
      [message(), { ...settings, tokenKey: undefined }, 'OUTBOUND_SECRET_KEY is not set'],
      [message({}, ['a@x.example', 'b@x.example']), settings, '2 recipients'],
    ] as const
    for (const [input, given, why] of cases) {
      const { headers, warnings } = listHeaders(input, 'n@shop.example', given)
      expect(Object.keys(headers)).toEqual(['List-Id'])
      expect(warnings).toEqual([expect.stringContaining(why)])
    }
  })
})
