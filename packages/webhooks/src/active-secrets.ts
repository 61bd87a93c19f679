/** A stored signing secret: null `expiresAt` for the current one. */
export type SealedSecret = { sealed: string; expiresAt: string | null }

/**
 * The secrets that sign a request made at `at`: the current one, and the rotated-out ones whose
 * 24 hours beside it have not run out, in their stored order (current first).
 */
export function activeSecrets<T extends SealedSecret>(secrets: readonly T[], at: Date): T[] {
  return secrets.filter(
    ({ expiresAt }) => expiresAt === null || Date.parse(expiresAt) > at.getTime(),
  )
}
