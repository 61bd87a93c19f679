import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '@outbound/testing'
import { type Running, startAllInOne, stopService } from './helpers/processes.js'

// `pnpm start` takes ./var for itself and checks its port before it starts anything.
const started: Running[] = []
const dirs: string[] = []

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbound-single-start-'))
  dirs.push(dir)
  return dir
}

function start(cwd: string, port: number): Running {
  const running = startAllInOne(cwd, { PORT: String(port) })
  started.push(running)
  return running
}

async function waitForBanner(running: Running): Promise<void> {
  await waitFor(
    () => {
      if (running.child.exitCode !== null) throw new Error(`exited early:\n${running.output()}`)
      return running.output().includes('Outbound is running')
    },
    { timeoutMs: 60_000, what: 'the banner' },
  )
}

async function isReady(port: number): Promise<boolean> {
  return await fetch(`http://127.0.0.1:${port}/ready`).then(
    (r) => r.ok,
    () => false,
  )
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((running) => stopService(running.child)))
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('pnpm start', () => {
  it('refuses a second start in the same directory, naming the running pid', async () => {
    const cwd = tempDir()
    const port = await freePort()
    const first = start(cwd, port)
    await waitForBanner(first)
    expect(readFileSync(join(cwd, 'var/outbound.pid'), 'utf8').trim()).toBe(String(first.child.pid))

    const second = start(cwd, await freePort())
    expect(await second.exited).toBe(1)
    expect(second.output()).toContain(
      `already running from this directory (pid ${String(first.child.pid)}`,
    )
    expect(second.output()).not.toContain('Outbound is running')

    // The first is untouched: it still answers and still holds the lock.
    expect(first.child.exitCode).toBeNull()
    expect(await isReady(port)).toBe(true)
    expect(existsSync(join(cwd, 'var/outbound.pid'))).toBe(true)

    first.child.kill('SIGINT')
    expect(await first.exited).toBe(0)
    expect(existsSync(join(cwd, 'var/outbound.pid'))).toBe(false)
  })

  it('takes over the lock of a process that no longer runs', async () => {
    const cwd = tempDir()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    mkdirSync(join(cwd, 'var'))
    writeFileSync(join(cwd, 'var/outbound.pid'), `${dead.stdout.toString()}\n`)

    const port = await freePort()
    const running = start(cwd, port)
    await waitForBanner(running)
    expect(readFileSync(join(cwd, 'var/outbound.pid'), 'utf8').trim()).toBe(
      String(running.child.pid),
    )
    expect(await isReady(port)).toBe(true)
  })

  it('refuses a port in use before it starts anything, naming the port and PORT=', async () => {
    const cwd = tempDir()
    const port = await freePort()
    const other: Server = createServer()
    await new Promise<void>((r) => other.listen(port, '127.0.0.1', r))
    try {
      const running = start(cwd, port)
      expect(await running.exited).toBe(1)
      expect(running.output()).toContain(`port ${port} on 127.0.0.1 is in use`)
      expect(running.output()).toContain(`PORT=${port + 1} pnpm start`)
      expect(running.output()).not.toContain('Outbound is running')
      // Nothing was started: no Redis data, no key, and the lock is released.
      expect(existsSync(join(cwd, 'var/redis'))).toBe(false)
      expect(existsSync(join(cwd, 'var/secret.key'))).toBe(false)
      expect(existsSync(join(cwd, 'var/outbound.pid'))).toBe(false)
    } finally {
      await new Promise((r) => other.close(r))
    }
  })
})
