export {
  type Dmarc,
  /** The p= of a DKIM key record, or null. */
  dkimPublicKey,
  /** Mechanisms that cost one of SPF's 10 DNS lookups. */
  LOOKUP_MECHANISMS,
  /** The DMARC policy of `_dmarc` TXT records, or null. */
  parseDmarc,
  /** The terms and redirect of an SPF record. */
  parseSpf,
  type Spf,
  /** The SPF records among TXT records. */
  spfRecords,
  type SpfTerm,
} from './records.js'
