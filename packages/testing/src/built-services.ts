import { type ChildProcess, spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { freePort } from '@outbound/local-redis'
import { waitFor } from './wait-for.js'

// The built processes (`pnpm build` first; `pnpm test` does it), started as an operator would.
// packages/testing/src (or dist) → the repository.
export const repo = resolve(import.meta.dirname, '../../..')
export const API_MAIN = 'services/api/dist/main.js'
export const WORKER_MAIN = 'services/worker/dist/main.js'

/** Starts a built service of this repository with only PATH and `env` (logs at `warn`). */
export function startService(
  main: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): ChildProcess {
  return spawn(process.execPath, [join(repo, main), ...args], {
    env: { PATH: process.env['PATH'], LOG_LEVEL: 'warn', ...env },
    stdio: 'ignore',
  })
}

/** Signals a process (SIGTERM unless told) and resolves when it has exited. */
export async function stopService(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill(signal)
  await exited
}

/**
 * Starts the API on `port` (a free one when not given) and waits until `/ready` answers; returns
 * it and its base URL.
 */
export async function startApi(
  env: Readonly<Record<string, string>>,
  port?: number,
): Promise<{ child: ChildProcess; base: string }> {
  port ??= await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = startService(API_MAIN, [], { ...env, PORT: String(port) })
  try {
    await waitFor(
      () =>
        fetch(`${base}/ready`).then(
          (r) => r.ok,
          () => false,
        ),
      { timeoutMs: 30_000, what: 'the API' },
    )
  } catch (err) {
    // The caller never gets the process: stop it here rather than leave it running.
    await stopService(child)
    throw err
  }
  return { child, base }
}
