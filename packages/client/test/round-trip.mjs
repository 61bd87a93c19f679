// A plain JavaScript (ESM) user of the built client: no TypeScript, no build step of its own.
// OUTBOUND_URL and OUTBOUND_API_KEY name the API; prints what it saw as one JSON line.
import { createOutboundClient } from '@outbound/client'

const client = createOutboundClient({
  baseUrl: process.env.OUTBOUND_URL,
  apiKey: process.env.OUTBOUND_API_KEY,
})

const email = {
  from: 'ann@shop.example',
  to: ['bob@example.com'],
  subject: 'From plain JavaScript',
  text: 'Hello',
  scheduledAt: new Date(Date.now() + 86_400_000).toISOString(),
}
const sent = await client.POST('/v1/emails', { body: email })
if (sent.error) throw new Error(`send: ${JSON.stringify(sent.error)}`)
const read = await client.GET('/v1/emails/{id}', { params: { path: { id: sent.data.id } } })
const canceled = await client.DELETE('/v1/emails/{id}', { params: { path: { id: sent.data.id } } })
const missing = await client.GET('/v1/emails/{id}', { params: { path: { id: 'msg_nope' } } })
console.log(
  JSON.stringify({
    sent: sent.data,
    sentStatus: sent.response.status,
    read: { id: read.data?.id, status: read.data?.status, subject: read.data?.subject },
    canceled: canceled.data,
    missing: { status: missing.response.status, code: missing.error?.code },
  }),
)
