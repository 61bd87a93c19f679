import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type SmtpSink, startSmtpSink } from '@outbound/testing'
import { HandoffRevokedError, type OutgoingMessage } from '../src/transports/message-transport.js'
import { createSmtpTransport, smtpSettingsFromUrl } from '../src/transports/smtp-transport.js'

let sink: SmtpSink

function outgoing(
  id: string,
  to: string[],
  commit: () => Promise<boolean> = async () => true,
): OutgoingMessage {
  const raw = Buffer.from(
    `From: a@shop.example\r\nTo: ${to.join(', ')}\r\nSubject: ${id}\r\n\r\nbody of ${id}\r\n`,
  )
  return { id, envelope: { from: 'a@shop.example', to }, raw, commit }
}

beforeAll(async () => {
  sink = await startSmtpSink({ replies: { 'gone@example.com': '550 5.1.1 user unknown' } })
})
afterAll(async () => {
  await sink.close()
})
afterEach(() => {
  sink.messages.length = 0
})

describe('createSmtpTransport', () => {
  // Robustness: a send waiting for a connection slot was woken only when a connection was released
  // or discarded; a failed connect just lowered the count, so waiters hung for good.
  it('fails every send of 100 (20 at a time, 5 connections) to a refused port within seconds', async () => {
    const refused = await freePort()
    const transport = createSmtpTransport(smtpSettingsFromUrl(`smtp://127.0.0.1:${refused}`, 5))
    const started = Date.now()
    let next = 0
    const failures: unknown[] = []
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 100) {
          const i = next++
          await transport.send(outgoing(`r${i}`, ['bob@example.com'])).catch((err: unknown) => {
            failures.push(err)
          })
        }
      }),
    )
    expect(failures).toHaveLength(100)
    expect(Date.now() - started).toBeLessThan(10_000)
    await transport.close()
  })

  it('holds no more connections than its leases allow, across transports', async () => {
    const held = new Set<string>()
    const leases = {
      take: async (member: string, max: number) => {
        if (held.size >= max) return false
        held.add(member)
        return true
      },
      renew: async () => {},
      release: async (member: string) => {
        held.delete(member)
      },
      want: async () => {},
      wantedElsewhere: async () => false,
    }
    const slow = await startSmtpSink({ dataReplyDelayMs: 50 })
    const transports = [1, 2, 3].map((n) =>
      createSmtpTransport(smtpSettingsFromUrl(slow.url, 2), { leases, holder: `t${n}` }),
    )
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await transports[i % 3]?.send(outgoing(`l${i}`, ['bob@example.com']))
      }),
    )
    expect(slow.peakConnections()).toBeLessThanOrEqual(2)
    expect(slow.messages).toHaveLength(30)
    await Promise.all(transports.map((t) => t.close()))
    await slow.close()
  })

  it('asks for the commit only after DATA was accepted, and lets the message through after it', async () => {
    const transport = createSmtpTransport(smtpSettingsFromUrl(sink.url))
    let messagesAtCommit = -1
    const result = await transport.send(
      outgoing('m1', ['bob@example.com'], async () => {
        messagesAtCommit = sink.messages.length
        return true
      }),
    )
    expect(messagesAtCommit).toBe(0)
    expect(sink.messages).toHaveLength(1)
    expect(result.accepted).toEqual(['bob@example.com'])
    expect(result.response).toMatch(/^250/)
    await transport.close()
  })

  it('aborts without the end of DATA when the commit is refused, and keeps working', async () => {
    const transport = createSmtpTransport(smtpSettingsFromUrl(sink.url))
    await expect(
      transport.send(outgoing('m2', ['bob@example.com'], async () => false)),
    ).rejects.toBeInstanceOf(HandoffRevokedError)
    await transport.send(outgoing('m3', ['bob@example.com']))
    expect(sink.messages.map((m) => m.raw.toString())).toEqual([
      expect.stringContaining('body of m3'),
    ])
    await transport.close()
  })

  it('never asks for the commit when every recipient is refused', async () => {
    const transport = createSmtpTransport(smtpSettingsFromUrl(sink.url))
    let commits = 0
    const sending = transport.send(
      outgoing('m4', ['gone@example.com'], async () => {
        commits += 1
        return true
      }),
    )
    await expect(sending).rejects.toMatchObject({ responseCode: 550, permanent: true })
    expect(commits).toBe(0)
    expect(sink.messages).toHaveLength(0)
    await transport.close()
  })

  it('reports refused recipients and delivers to the rest', async () => {
    const transport = createSmtpTransport(smtpSettingsFromUrl(sink.url))
    const result = await transport.send(outgoing('m5', ['bob@example.com', 'gone@example.com']))
    expect(result.accepted).toEqual(['bob@example.com'])
    expect(result.rejected).toEqual([
      {
        address: 'gone@example.com',
        responseCode: 550,
        response: expect.stringContaining('5.1.1'),
      },
    ])
    await transport.close()
  })

  it('serves an urgent send before the non-urgent ones already waiting for a connection', async () => {
    const slow = await startSmtpSink({ dataReplyDelayMs: 30 })
    const transport = createSmtpTransport(smtpSettingsFromUrl(slow.url, 1))
    const mass = Array.from({ length: 6 }, (_, i) =>
      transport.send(outgoing(`mass${i}`, ['bob@example.com'])),
    )
    const urgent = transport.send({ ...outgoing('urgent', ['bob@example.com']), urgent: true })
    await Promise.all([...mass, urgent])
    const order = slow.messages.map((m) => /Subject: (\S+)/.exec(m.raw.toString())?.[1])
    // The first mass message had the only connection; the urgent one came next, not last.
    expect(order.indexOf('urgent')).toBe(1)
    expect(order).toHaveLength(7)
    await transport.close()
    await slow.close()
  })

  it('leaves one of 3 connections to urgent sends, which then need not wait for one', async () => {
    const slow = await startSmtpSink({ dataReplyDelayMs: 30 })
    const transport = createSmtpTransport(smtpSettingsFromUrl(slow.url, 3))
    let massDone = 0
    const mass = Array.from({ length: 40 }, (_, i) =>
      transport.send(outgoing(`mass${i}`, ['bob@example.com'])).then(() => (massDone += 1)),
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(slow.peakConnections()).toBe(2)
    await transport.send({ ...outgoing('urgent', ['bob@example.com']), urgent: true })
    // The reserved connection took it at once: most of the mass mail is still to go.
    expect(massDone).toBeLessThan(30)
    await Promise.all(mass)
    expect(slow.peakConnections()).toBe(3)
    await transport.close()
    await slow.close()
  })

  it('sends many messages over at most maxConnections connections', async () => {
    const transport = createSmtpTransport({ ...smtpSettingsFromUrl(sink.url), maxConnections: 2 })
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => transport.send(outgoing(`p${i}`, ['bob@example.com']))),
    )
    expect(sink.messages).toHaveLength(30)
    expect(sink.peakConnections()).toBeLessThanOrEqual(2)
    await transport.close()
  })

  it('carries 1,000 messages over one connection, then opens another', async () => {
    const counting = await startSmtpSink()
    const transport = createSmtpTransport(smtpSettingsFromUrl(counting.url, 1))
    for (let i = 0; i < 1001; i++) await transport.send(outgoing(`c${i}`, ['bob@example.com']))
    expect(counting.messages).toHaveLength(1001)
    expect(counting.connections()).toBe(2)
    await transport.close()
    await counting.close()
  })

  it('opens a new connection once the old one has reached its age', async () => {
    const counting = await startSmtpSink()
    const transport = createSmtpTransport(smtpSettingsFromUrl(counting.url, 1), {
      maxConnectionAgeMs: 150,
    })
    await transport.send(outgoing('a1', ['bob@example.com']))
    await transport.send(outgoing('a2', ['bob@example.com']))
    expect(counting.connections()).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    // Sent on the aged connection (the age is checked when a send ends), which is then closed.
    await transport.send(outgoing('a3', ['bob@example.com']))
    await transport.send(outgoing('a4', ['bob@example.com']))
    expect(counting.connections()).toBe(2)
    expect(counting.messages).toHaveLength(4)
    await transport.close()
    await counting.close()
  })

  it('sends again on a new connection when a server refuses more messages on one with 421', async () => {
    const capped = await startSmtpSink({ messagesPerConnection: 3 })
    const transport = createSmtpTransport(smtpSettingsFromUrl(capped.url, 1))
    for (let i = 0; i < 7; i++) await transport.send(outgoing(`k${i}`, ['bob@example.com']))
    expect(capped.messages).toHaveLength(7)
    expect(capped.connections()).toBe(3)
    await transport.close()
    await capped.close()
  })

  it('gives a 421 on a new connection back to the caller, without trying again', async () => {
    const refusing = await startSmtpSink({ mailFromReply: '421 4.7.0 Try again later' })
    const transport = createSmtpTransport(smtpSettingsFromUrl(refusing.url, 1))
    await expect(transport.send(outgoing('t1', ['bob@example.com']))).rejects.toMatchObject({
      responseCode: 421,
    })
    expect(refusing.connections()).toBe(1)
    await transport.close()
    await refusing.close()
  })

  it('fails with a temporary error when nothing listens', async () => {
    const transport = createSmtpTransport(smtpSettingsFromUrl('smtp://127.0.0.1:1'))
    await expect(transport.send(outgoing('m6', ['bob@example.com']))).rejects.toMatchObject({
      code: 'ESOCKET',
    })
    await transport.close()
  })
})
