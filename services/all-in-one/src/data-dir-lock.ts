import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const LOCK_FILE = 'outbound.pid'

export type DataDirLock =
  { ok: true; file: string; release: () => void } | { ok: false; file: string; pid: number }

/** Whether a process with this pid runs (one we may not signal still runs). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`reading the lock ${file}`, { cause: err })
  }
}

/**
 * Takes the data directory for this process: `<dir>/outbound.pid` holds its pid, created only if
 * absent. A lock left by a process that no longer runs is taken over; one of a running process is
 * refused with its pid. `release()` removes the file if it is still this process's.
 */
export function lockDataDir(dir: string): DataDirLock {
  const file = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 })
      const release = () => {
        if (readPid(file) === process.pid) rmSync(file, { force: true })
      }
      return { ok: true, file, release }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(`creating the lock ${file}`, { cause: err })
      }
    }
    const holder = readPid(file)
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      return { ok: false, file, pid: holder }
    }
    // Stale (its process is gone) or unreadable: take it over. Re-read first so that a lock
    // another start has just taken over is not removed.
    if (readPid(file) === holder) rmSync(file, { force: true })
  }
  throw new Error(`could not take the lock ${file}: it keeps changing`)
}
