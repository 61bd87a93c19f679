import { dkimSign } from 'mailauth'
import { addressKey } from '@outbound/routing'
import { aliasAddresses } from '@outbound/rewrite'
import { openSecretWithAny } from '@outbound/secrets'
import type { AliasDomainRecord, DkimOutcome } from '@outbound/store'

/**
 * The headers a signature covers: mailauth's default list (From, To, Subject, Date, Message-ID,
 * the MIME headers, List-Id, List-Unsubscribe …) and List-Unsubscribe-Post, which RFC 8058 §4
 * requires signed and mailauth's list lacks. Only the headers present are signed.
 */
export const SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'BIMI-Selector',
]

export type Signer = (
  raw: Buffer,
  headerFromAddress: string,
  aliasDomains: readonly AliasDomainRecord[],
  at: Date,
) => Promise<{ raw: Buffer; dkim: DkimOutcome }>

/**
 * DKIM-signs a message whose From domain is an alias domain with keys (every key signs:
 * relaxed/relaxed, SIGNED_HEADERS: From, To, Subject, Date, Message-ID and both
 * List-Unsubscribe headers among them). Keys are opened once each; a message whose From domain has no key goes out as is.
 */
export function createSigner(secretKeys: readonly Buffer[]): Signer {
  const opened = new Map<string, string>()
  const privateKey = (sealed: string) => {
    let pem = opened.get(sealed)
    if (pem === undefined) {
      pem = openSecretWithAny(sealed, secretKeys)
      opened.set(sealed, pem)
    }
    return pem
  }
  return async (raw, headerFromAddress, aliasDomains, at) => {
    const domain = addressKey(headerFromAddress)?.domain ?? ''
    const aliasDomain = aliasDomains.find(
      (candidate) => aliasAddresses(candidate).domain === domain,
    )
    const keys = aliasDomain?.dkimKeys ?? []
    const [first] = keys
    if (first === undefined) {
      return {
        raw,
        dkim: {
          signed: false,
          domain,
          selectors: [],
          detail: `no DKIM key for ${domain}: sent unsigned`,
        },
      }
    }
    const signatureData = keys.map((key) => ({
      signingDomain: domain,
      selector: key.selector,
      privateKey: privateKey(key.privateKeySealed),
      algorithm: key.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
      canonicalization: 'relaxed/relaxed',
    }))
    const { signatures, errors } = await dkimSign(raw, {
      // mailauth signs with signatureData; the first key is repeated here for its types only.
      signingDomain: domain,
      selector: first.selector,
      privateKey: signatureData[0]?.privateKey ?? '',
      signTime: at,
      // mailauth reads a colon-separated string here (an array, as its types say, is silently
      // ignored for its default list, which lacks List-Unsubscribe-Post).
      headerList: SIGNED_HEADERS.join(':') as unknown as string[],
      signatureData,
    })
    if (errors.length > 0)
      throw new Error(`DKIM signing failed for ${domain}`, { cause: errors[0] })
    return {
      raw: Buffer.concat([Buffer.from(signatures), raw]),
      dkim: { signed: true, domain, selectors: keys.map((key) => key.selector), detail: '' },
    }
  }
}
