import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process'
import { accessSync, constants, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join, resolve } from 'node:path'
import type { Readable } from 'node:stream'

export type LocalRedisOptions = {
  /** Where redis-server keeps its files (AOF, dump); created when missing. */
  dataDir: string
  /** AOF on: a restart loses nothing (the all-in-one start); off for throwaway test servers. */
  appendOnly: boolean
  /** PATH to search for redis-server (the caller passes its process.env.PATH). */
  searchPath: string
  /** A port to listen on (to restart a server where it was); a free one when absent. */
  port?: number
}

export type LocalRedis = {
  url: string
  /** How the server was started, for the start-up banner. */
  kind: 'redis-server' | 'container'
  stop(): Promise<void>
}

export const HOW_TO_GET_REDIS = [
  'Outbound needs Redis 6.2 or later, and none could be started:',
  '  - install redis-server (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`),',
  '  - or start a Docker engine (a redis:7 container is then started for you),',
  '  - or set REDIS_URL to a Redis you run (redis://host:6379).',
].join('\n')

const READY_LINE = 'Ready to accept connections'
const START_TIMEOUT_MS = 15_000

function findOnPath(command: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this directory: keep looking.
    }
  }
  return undefined
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

async function waitUntilReady(child: ChildProcessByStdio<null, Readable, Readable>): Promise<void> {
  let output = ''
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`redis-server did not start within ${START_TIMEOUT_MS} ms:\n${output}`))
    }, START_TIMEOUT_MS)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes(READY_LINE)) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        resolveReady()
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with code ${String(code)}:\n${output}`))
    })
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  // SIGTERM makes redis-server flush the AOF and exit cleanly.
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

async function startRedisServer(binary: string, options: LocalRedisOptions): Promise<LocalRedis> {
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  // A port picked free can be taken before redis-server binds it; try a few.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort())
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dataDir,
        '--appendonly',
        options.appendOnly ? 'yes' : 'no',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
      ],
      // Its own process group: a terminal's Ctrl-C must not stop Redis before the processes
      // that use it have drained.
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    )
    child.stderr.resume()
    // The server must not outlive this process, even when it exits without stopping it.
    const killOnExit = () => child.kill('SIGKILL')
    process.once('exit', killOnExit)
    try {
      await waitUntilReady(child)
    } catch (err) {
      process.off('exit', killOnExit)
      await stopChild(child)
      if (attempt < 3 && options.port === undefined) continue
      throw new Error('starting redis-server', { cause: err })
    }
    child.stdout.resume()
    return {
      url: `redis://127.0.0.1:${port}`,
      kind: 'redis-server',
      stop: async () => {
        process.off('exit', killOnExit)
        await stopChild(child)
      },
    }
  }
}

async function startRedisContainer(options: LocalRedisOptions): Promise<LocalRedis | undefined> {
  const { GenericContainer } = await import('testcontainers')
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  try {
    const container = await new GenericContainer('redis:7-alpine')
      .withCommand([
        'redis-server',
        '--appendonly',
        options.appendOnly ? 'yes' : 'no',
        '--maxmemory-policy',
        'noeviction',
      ])
      .withBindMounts([{ source: dataDir, target: '/data' }])
      .withExposedPorts(6379)
      .start()
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      kind: 'container',
      stop: async () => {
        await container.stop()
      },
    }
  } catch {
    // No container runtime here: the caller explains how to get Redis.
    return undefined
  }
}

/**
 * Starts a private Redis: `redis-server` from the search path, else a redis:7 container when a
 * Docker engine answers. Throws an Error whose message says how to get Redis when neither works.
 */
export async function startLocalRedis(options: LocalRedisOptions): Promise<LocalRedis> {
  const binary = findOnPath('redis-server', options.searchPath)
  if (binary !== undefined) return await startRedisServer(binary, options)
  const container = await startRedisContainer(options)
  if (container !== undefined) return container
  throw new Error(HOW_TO_GET_REDIS)
}
