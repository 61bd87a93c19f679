export {
  /** Decrypts a sealed secret; throws for a wrong key or a tampered value. */
  openSecret,
  /** Decrypts with the first of several keys that opens the secret (key rotation). */
  openSecretWithAny,
  /** Encrypts a secret with AES-256-GCM: `v1.<iv>.<tag>.<ciphertext>`. */
  sealSecret,
} from './seal-secret.js'
