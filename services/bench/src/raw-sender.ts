import nodemailer from 'nodemailer'

// `pnpm bench`'s baseline: raw pooled nodemailer, in a process of its own, warmed up, with the
// connection count Outbound gets. Arguments: port, connections, messages, and `pause` to wait after
// the warm-up (the Postfix round: the relay's queue must be empty before the clock starts). Prints
// nothing; answers over IPC with the rate of the measured run.
const [port, connections, messages] = process.argv.slice(2, 5).map(Number)
const pause = process.argv[5] === 'pause'
const WARM_UP = 500
const IN_FLIGHT = 100

const transport = nodemailer.createTransport({
  host: '127.0.0.1',
  port,
  pool: true,
  maxConnections: connections,
  maxMessages: Infinity,
  ignoreTLS: true,
})

const body = 'x'.repeat(2000)
async function send(count: number, offset: number): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const i = offset + next++
        await transport.sendMail({
          from: '"Bench" <bench@shop.example>',
          to: `user${i}@example.com`,
          subject: `Benchmark message ${i}`,
          text: body,
        })
      }
    }),
  )
}

await send(WARM_UP, 0)
if (pause) {
  const go = new Promise((resolve) => process.once('message', resolve))
  process.send?.({ type: 'warm', warmUp: WARM_UP })
  await go
}
const started = performance.now()
await send(messages ?? 0, WARM_UP)
const seconds = (performance.now() - started) / 1000
transport.close()
process.send?.({ type: 'done', rate: (messages ?? 0) / seconds, warmUp: WARM_UP })
process.disconnect()
