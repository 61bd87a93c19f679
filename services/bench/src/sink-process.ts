import { startSmtpSink } from '@outbound/testing'

// `pnpm bench`'s SMTP sink, in a process of its own so that it shares no event loop with what it
// measures. It answers the parent over IPC: its port, how many messages it has received, and when
// each probe message (subject starting "probe ") arrived, by X-Outbound-Message-Id.
type Request = { type: 'count' } | { type: 'reset' } | { type: 'probes' } | { type: 'stop' }

const probes = new Map<string, number>()
let count = 0
const sink = await startSmtpSink({
  onMessage: (message) => {
    count += 1
    // The head of the message is enough; bodies are never read.
    const head = message.raw.toString('latin1', 0, Math.min(message.raw.length, 4096))
    if (!/^Subject: probe /im.test(head)) return
    const id = /^X-Outbound-Message-Id: (\S+)\r?$/im.exec(head)?.[1]
    // The monotonic clock, shared by every process of the machine (each process's own
    // performance.timeOrigin differs by milliseconds).
    if (id !== undefined) probes.set(id, Number(process.hrtime.bigint()) / 1e6)
  },
})
// Bodies are not kept: a long run would hold every message in memory.
const keep = sink.messages
setInterval(() => {
  keep.length = 0
}, 1000).unref()

process.on('message', (request: Request) => {
  switch (request.type) {
    case 'count':
      process.send?.({ type: 'count', count })
      break
    case 'reset':
      count = 0
      probes.clear()
      process.send?.({ type: 'reset' })
      break
    case 'probes':
      process.send?.({ type: 'probes', probes: [...probes] })
      break
    case 'stop':
      void sink.close().then(() => process.exit(0))
      break
  }
})
process.send?.({ type: 'ready', port: sink.port })
