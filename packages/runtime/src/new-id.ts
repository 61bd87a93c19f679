import { randomFillSync } from 'node:crypto'
import { ulid } from 'ulid'

// ulid's own generator asks the system for one random byte per character (16 calls per id): at
// thousands of ids a second that showed in the worker's CPU profile. The same randomness, drawn
// 4 KiB at a time.
const pool = Buffer.alloc(4096)
let next = pool.length

function random(): number {
  if (next >= pool.length) {
    randomFillSync(pool)
    next = 0
  }
  return (pool[next++] ?? 0) / 256
}

/** A new id: `<prefix>_<ULID>` (sortable by creation time, 80 random bits). */
export function newId(prefix: string): string {
  return `${prefix}_${ulid(undefined, random)}`
}
