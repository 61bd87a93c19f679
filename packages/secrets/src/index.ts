export {
  /** Decrypts a sealed secret; throws for a wrong key or a tampered value. */
  openSecret,
  /** Decrypts with the first of several keys that opens the secret (key rotation). */
  openSecretWithAny,
  /** Encrypts a secret with AES-256-GCM: `v1.<iv>.<tag>.<ciphertext>`. */
  sealSecret,
} from './seal-secret.js'
export {
  /** A one-click unsubscribe token for one recipient of one message. */
  makeUnsubscribeToken,
  /** A token's recipient, message and list; null for a forged, truncated or changed token. */
  openUnsubscribeToken,
  /** The token key derived from OUTBOUND_SECRET_KEY (HKDF-SHA256). */
  unsubscribeKey,
  type UnsubscribeSubject,
} from './unsubscribe-token.js'
