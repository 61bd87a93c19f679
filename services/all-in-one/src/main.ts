import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HOW_TO_GET_REDIS, type LocalRedis, startLocalRedis } from '@outbound/local-redis'
import { lockDataDir } from './data-dir-lock.js'
import { isPortFree } from './port-check.js'

// `pnpm start`: the API and both worker pools as child processes, with a private Redis and the
// file outbox when nothing is configured (CONTRACT.md, all-in-one).
const here = dirname(fileURLToPath(import.meta.url))
const API_MAIN = resolve(here, '../../api/dist/main.js')
const WORKER_MAIN = resolve(here, '../../worker/dist/main.js')
const VAR_DIR = resolve('var')
const READY_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 70_000

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Ends the start before anything runs: the reason on stderr, exit code 1. */
function refuse(message: string): never {
  process.stderr.write(`outbound: ${message}\n`)
  process.exit(1)
}

/** Takes ./var for this process (released on exit), or refuses if another start holds it. */
function lockVarDir(): void {
  mkdirSync(VAR_DIR, { recursive: true })
  const lock = lockDataDir(VAR_DIR)
  if (!lock.ok) {
    refuse(
      `Outbound is already running from this directory (pid ${lock.pid}, lock ${lock.file}).\n` +
        `Stop it (kill ${lock.pid}, or Ctrl-C where it runs) or start from another directory.\n` +
        `(If process ${lock.pid} is not Outbound, delete ${lock.file} and start again.)`,
    )
  }
  process.once('exit', lock.release)
}

/** OUTBOUND_SECRET_KEY, or one kept in ./var/secret.key (created on first start, mode 600). */
function secretKey(given: string | undefined): string {
  if (given !== undefined && given !== '') return given
  const file = resolve(VAR_DIR, 'secret.key')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(VAR_DIR, { recursive: true })
  const key = randomBytes(32).toString('base64')
  writeFileSync(file, `${key}\n`, { mode: 0o600 })
  return key
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** Resolves once `/ready` answers while the API child started here is still running. */
async function waitForApi(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error('the API exited during start-up')
    try {
      const response = await fetch(`${url}/ready`)
      // The port was free before the API started, and the API is still running: it answered.
      if (response.ok && isRunning(child)) return
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the API did not become ready within ${READY_TIMEOUT_MS} ms`)
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

async function main(): Promise<void> {
  const env = process.env
  const host = env['HOST'] ?? '127.0.0.1'
  const port = env['PORT'] ?? '3000'
  lockVarDir()
  if (!(await isPortFree(host, Number(port)))) {
    refuse(
      `port ${port} on ${host} is in use by another program.\n` +
        `Stop it, or pick another port: PORT=${Number(port) + 1} pnpm start`,
    )
  }
  let redis: LocalRedis | undefined
  let redisUrl = env['REDIS_URL'] ?? ''
  if (redisUrl === '') {
    try {
      redis = await startLocalRedis({
        dataDir: resolve(VAR_DIR, 'redis'),
        appendOnly: true,
        searchPath: env['PATH'] ?? '',
      })
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      process.stderr.write(
        `${message === HOW_TO_GET_REDIS ? message : `${HOW_TO_GET_REDIS}\n\n(${message})`}\n`,
      )
      process.exit(1)
    }
    redisUrl = redis.url
  }
  const outboxDir = resolve(env['OUTBOX_DIR'] ?? resolve(VAR_DIR, 'outbox'))
  const childEnv = {
    ...env,
    REDIS_URL: redisUrl,
    OUTBOUND_SECRET_KEY: secretKey(env['OUTBOUND_SECRET_KEY']),
    OUTBOX_DIR: outboxDir,
  }
  const children = [
    spawn(process.execPath, [API_MAIN], { env: childEnv, stdio: 'inherit' }),
    spawn(process.execPath, [WORKER_MAIN, '--pool', 'all'], { env: childEnv, stdio: 'inherit' }),
  ] as const

  let stopping = false
  const stop = async (exitCode: number) => {
    if (stopping) return
    stopping = true
    await Promise.all(children.map(stopChild))
    await redis?.stop()
    process.exit(exitCode)
  }
  process.on('SIGINT', () => void stop(0))
  process.on('SIGTERM', () => void stop(0))
  for (const child of children) {
    child.once('exit', (code, signal) => {
      if (stopping) return
      process.stderr.write(
        `outbound: a process exited (code ${String(code)}, signal ${String(signal)}); stopping\n`,
      )
      void stop(1)
    })
  }

  const displayHost = host.includes(':') ? `[${host}]` : host
  const url = `http://${displayHost}:${port}`
  try {
    await waitForApi(url, children[0])
  } catch (err) {
    process.stderr.write(`outbound: ${err instanceof Error ? err.message : String(err)}\n`)
    await stop(1)
  }
  say('')
  say('Outbound is running (Ctrl-C stops it)')
  say(`  API      ${url}/v1/emails`)
  say(`  Docs     ${url}/docs`)
  say(`  Console  ${url}/console`)
  say(
    env['SMTP_URL'] === undefined || env['SMTP_URL'] === ''
      ? `  Outbox   ${outboxDir}  (no SMTP_URL: each message is written there as <id>.eml)`
      : `  SMTP     ${env['SMTP_URL'].replace(/\/\/[^/@]*@/, '//***@')}`,
  )
  say(
    redis === undefined
      ? '  Redis    REDIS_URL'
      : `  Redis    ${redis.url}  (private ${redis.kind}, data in ${resolve(VAR_DIR, 'redis')})`,
  )
  say('')
}

main().catch((err: unknown) => {
  process.stderr.write(`outbound: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
