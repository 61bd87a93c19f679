import dns2 from 'dns2'
import { freePort } from '@outbound/local-redis'

/** TXT records by name (lower case, no trailing dot); each record is one or more strings. */
export type Zone = Record<string, string[][]>

export type TestDnsServer = {
  /** `127.0.0.1:<port>`, for DNS_SERVERS or a node:dns Resolver. */
  address: string
  /** Replaces what the server answers. */
  serve(zone: Zone): void
  close(): Promise<void>
}

/** A DNS server on a free UDP port of 127.0.0.1 that answers TXT queries from a zone. */
export async function startDnsServer(zone: Zone = {}): Promise<TestDnsServer> {
  let records = zone
  const { Packet } = dns2
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request)
      for (const question of request.questions) {
        for (const strings of records[question.name.toLowerCase().replace(/\.$/, '')] ?? []) {
          response.answers.push(
            Packet.createResourceFromQuestion(question, {
              type: Packet.TYPE.TXT,
              class: Packet.CLASS.IN,
              ttl: 60,
              data: strings,
            }),
          )
        }
      }
      void send(response)
    },
  })
  const port = await freePort()
  await server.listen({ udp: { port, address: '127.0.0.1' } })
  return {
    address: `127.0.0.1:${port}`,
    serve: (next) => {
      records = next
    },
    close: async () => {
      await server.close()
    },
  }
}
