import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

// Format: v1.<iv>.<tag>.<ciphertext>, base64url. The version lets a later key rotation tell
// formats apart; the 12-byte IV is random per secret (NIST SP 800-38D).
const VERSION = 'v1'
const IV_BYTES = 12

/** Encrypts a secret with AES-256-GCM under a 32-byte key. */
export function sealSecret(plaintext: string, key: Buffer): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.')
}

/**
 * Decrypts with the first key that opens the secret (the current key, then previous ones while a
 * rotation is under way); throws when none does.
 */
export function openSecretWithAny(sealed: string, keys: readonly Buffer[]): string {
  for (const key of keys) {
    try {
      return openSecret(sealed, key)
    } catch {
      // Not this key: try the next.
    }
  }
  throw new Error('no configured key opens this secret')
}

/** Decrypts a sealed secret; throws when the key is wrong or the value was tampered with. */
export function openSecret(sealed: string, key: Buffer): string {
  const [version, iv, tag, ciphertext] = sealed.split('.')
  if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
    throw new Error('not a sealed secret')
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([
    decipher.update(Buffer.from(ciphertext, 'base64url')),
    decipher.final(),
  ]).toString('utf8')
}
