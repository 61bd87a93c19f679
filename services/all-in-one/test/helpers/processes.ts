import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { repo } from '@outbound/testing'

export { API_MAIN, startApi, startService, stopService, WORKER_MAIN } from '@outbound/testing'

export type Running = {
  child: ChildProcess
  /** stdout and stderr so far. */
  output: () => string
  exited: Promise<number | null>
}

/** Runs `pnpm start`'s built entry point in `cwd` (its ./var) with only PATH and `env`. */
export function startAllInOne(cwd: string, env: Readonly<Record<string, string>>): Running {
  let output = ''
  const child = spawn(process.execPath, [join(repo, 'services/all-in-one/dist/main.js')], {
    cwd,
    env: { PATH: process.env['PATH'], LOG_LEVEL: 'warn', ...env },
    stdio: 'pipe',
  })
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return { child, output: () => output, exited }
}
