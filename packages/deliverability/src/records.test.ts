import { describe, expect, it } from 'vitest'
import { dkimPublicKey, parseDmarc, parseSpf, spfRecords } from './records.js'

describe('SPF', () => {
  it('finds SPF records among TXT records and parses their terms', () => {
    expect(
      spfRecords([
        ['v=spf1 include:_spf.', 'provider.example ~all'],
        ['google-site-verification=x'],
      ]),
    ).toEqual(['v=spf1 include:_spf.provider.example ~all'])
    expect(
      parseSpf(
        'v=spf1 ip4:203.0.113.5 include:_spf.provider.example -mx ~all redirect=other.example',
      ),
    ).toEqual({
      terms: [
        { qualifier: '+', name: 'ip4', value: '203.0.113.5' },
        { qualifier: '+', name: 'include', value: '_spf.provider.example' },
        { qualifier: '-', name: 'mx', value: null },
        { qualifier: '~', name: 'all', value: null },
      ],
      redirect: 'other.example',
    })
  })
})

describe('DMARC', () => {
  it('reads the policy and alignment, defaulting to relaxed', () => {
    expect(parseDmarc([['v=DMARC1; p=reject; adkim=s; rua=mailto:d@shop.example']])).toEqual({
      policy: 'reject',
      adkim: 's',
      aspf: 'r',
      rua: 'mailto:d@shop.example',
    })
    expect(parseDmarc([['v=spf1 -all']])).toBeNull()
  })
})

describe('dkimPublicKey', () => {
  it('reads p= across the strings of a long record', () => {
    expect(dkimPublicKey([['v=DKIM1; k=rsa; p=MIIB', 'AQAB']])).toBe('MIIBAQAB')
    expect(dkimPublicKey([['v=DKIM1; p=']])).toBe('')
  })
})
