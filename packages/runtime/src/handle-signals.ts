import type { Logger } from 'pino'

/**
 * Graceful shutdown: on SIGTERM or SIGINT run `shutdown` once (stop taking work, drain, close
 * connections), then exit 0; exit 1 if it throws or takes longer than timeoutMs. A crash
 * (unhandled rejection or exception) is logged at fatal, drained the same way, and exits 1.
 */
export function handleSignals(log: Logger, shutdown: () => Promise<void>, timeoutMs: number): void {
  let stopping = false
  const stop = (reason: string, exitCode: number) => {
    if (stopping) return
    stopping = true
    log.info({ reason }, 'shutting down')
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown timed out; exiting')
      process.exit(1)
    }, timeoutMs)
    timer.unref()
    shutdown().then(
      () => {
        log.info('stopped')
        process.exit(exitCode)
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM', 0))
  process.once('SIGINT', () => stop('SIGINT', 0))
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection')
    stop('unhandledRejection', 1)
  })
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception')
    stop('uncaughtException', 1)
  })
}
