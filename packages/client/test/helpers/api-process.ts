import { type ChildProcess, spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { freePort, waitFor } from '@outbound/testing'

// The built processes (`pnpm build` first; `pnpm test` does it), started as an operator would.
export const repo = resolve(import.meta.dirname, '../../../..')

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

/** Signals a process and resolves when it has exited. */
export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

/** Starts the built API on a free port and waits until `/ready` answers. */
export async function startApi(
  env: Readonly<Record<string, string>>,
): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = startService('services/api/dist/main.js', [], { ...env, PORT: String(port) })
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
    await stopService(child)
    throw err
  }
  return { child, base }
}
