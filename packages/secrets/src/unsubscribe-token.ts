import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/** What an unsubscribe token carries: enough to suppress one recipient for one list. */
export type UnsubscribeSubject = {
  messageId: string
  /** The recipient's index in the message's recipients. */
  recipientIndex: number
  list: string
  /** The domain the list is named under in List-Id (the From domain the message went out with). */
  domain: string
  address: string
}

// Token: base64url(version byte | 12-byte IV | AES-256-GCM ciphertext | 16-byte tag). Authenticated
// encryption rather than a bare HMAC over a message id: the token carries the address itself, so
// it still works after the message record has expired (people click old newsletters), yet the
// address is not readable in the URL and any change to the token fails the tag check.
const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16
// Binds the ciphertext to its purpose: a value sealed for another use never opens as a token.
const AAD = Buffer.from('outbound unsubscribe token v1')
// The largest token accepted: a version, an IV, a tag and a plaintext of at most 1 KiB.
const MAX_TOKEN_CHARS = Math.ceil(((1 + IV_BYTES + TAG_BYTES + 1024) * 4) / 3)
const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * The key unsubscribe tokens are sealed with, derived from OUTBOUND_SECRET_KEY with HKDF-SHA256:
 * a key of its own, so a token never opens a stored secret and a stored secret never opens as a
 * token.
 */
export function unsubscribeKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'outbound unsubscribe', 32))
}

/** A token for one recipient of one message (a fresh IV each time). */
export function makeUnsubscribeToken(subject: UnsubscribeSubject, key: Buffer): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(AAD)
  const plaintext = JSON.stringify([
    subject.messageId,
    subject.recipientIndex,
    subject.list,
    subject.domain,
    subject.address,
  ])
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return Buffer.concat([Buffer.from([VERSION]), iv, ciphertext, cipher.getAuthTag()]).toString(
    'base64url',
  )
}

function openWith(raw: Buffer, key: Buffer): UnsubscribeSubject | null {
  const iv = raw.subarray(1, 1 + IV_BYTES)
  const tag = raw.subarray(raw.length - TAG_BYTES)
  const ciphertext = raw.subarray(1 + IV_BYTES, raw.length - TAG_BYTES)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAAD(AAD)
    decipher.setAuthTag(tag)
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()])
    const value: unknown = JSON.parse(plaintext.toString('utf8'))
    if (!Array.isArray(value) || value.length !== 5) return null
    const [messageId, recipientIndex, list, domain, address] = value as unknown[]
    if (
      typeof messageId !== 'string' ||
      typeof recipientIndex !== 'number' ||
      typeof list !== 'string' ||
      typeof domain !== 'string' ||
      typeof address !== 'string'
    )
      return null
    return { messageId, recipientIndex, list, domain, address }
  } catch {
    // A wrong key or a changed token fails the tag check: not a token of ours under this key.
    return null
  }
}

/**
 * The subject of a token, opened with the first key that opens it (the current key, then the
 * previous ones during a rotation); null for anything forged, truncated or changed.
 */
export function openUnsubscribeToken(
  token: string,
  keys: readonly Buffer[],
): UnsubscribeSubject | null {
  if (token.length > MAX_TOKEN_CHARS || !BASE64URL.test(token)) return null
  const raw = Buffer.from(token, 'base64url')
  if (raw.length <= 1 + IV_BYTES + TAG_BYTES || raw[0] !== VERSION) return null
  for (const key of keys) {
    const subject = openWith(raw, key)
    if (subject !== null) return subject
  }
  return null
}
