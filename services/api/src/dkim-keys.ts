import { generateKeyPairSync } from 'node:crypto'
import type { DkimKey } from '@outbound/store'

/** A new DKIM key pair: the private key as PKCS#8 PEM, the public key as the DNS record's p=. */
export function generateDkimKey(algorithm: DkimKey['algorithm']): {
  privateKeyPem: string
  publicKey: string
} {
  if (algorithm === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    return {
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    // RFC 8463 §4.2: p= is the raw 32-byte Ed25519 key, not its SPKI wrapping.
    publicKey: der.subarray(der.length - 32).toString('base64'),
  }
}

/** The TXT record to publish for a key: its name, value, and a zone-file line (255-byte strings). */
export function dkimDnsRecord(
  key: Pick<DkimKey, 'selector' | 'algorithm' | 'publicKey'>,
  domain: string,
) {
  const name = `${key.selector}._domainkey.${domain}`
  const value = `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`
  const strings = value.match(/.{1,255}/g) ?? [value]
  return { name, value, zoneLine: `${name}. IN TXT ${strings.map((s) => `"${s}"`).join(' ')}` }
}
