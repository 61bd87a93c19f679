import { describe, expect, it } from 'vitest'
import { formatMailbox, normalizeAddress, parseMailbox, toAsciiDomain } from './parse-mailbox.js'

describe('parseMailbox', () => {
  it.each([
    ['ann@shop.example', null, 'ann@shop.example'],
    ['"Mary" <mary@customer.example.com>', 'Mary', 'mary@customer.example.com'],
    ['Mary Smith <mary@customer.example.com>', 'Mary Smith', 'mary@customer.example.com'],
    ['"Doe, John" <john@x.example>', 'Doe, John', 'john@x.example'],
    ['José <jose@bücher.example>', 'José', 'jose@bücher.example'],
    ['<bare@x.example>', null, 'bare@x.example'],
  ])('accepts %s', (input, name, address) => {
    expect(parseMailbox(input)).toMatchObject({ name, address })
  })

  it.each([
    ['', 'empty'],
    ['not an address', 'no @'],
    ['a@b.example, c@d.example', 'two addresses'],
    ['Group: a@b.example;', 'a group'],
    ['a@[127.0.0.1]', 'a domain literal'],
    ['a@-bad-.example', 'a bad label'],
    ['a@b.example\r\nBcc: victim@x.example', 'CR/LF'],
    ['"Evil\u0000" <a@b.example>', 'a NUL in the display name'],
    ['pay\u200bpal@x.example', 'a zero-width space'],
    [`${'l'.repeat(65)}@x.example`, 'a 65-octet local part'],
    [`a@${`${'d'.repeat(60)}.`.repeat(5)}example`, '> 254 octets'],
  ])('refuses %j (%s)', (input) => {
    expect(parseMailbox(input)).toBeNull()
  })
})

describe('normalizeAddress', () => {
  it('lower-cases the domain and converts it to its A-label', () => {
    expect(normalizeAddress({ local: 'Ann', domain: 'Bücher.Example' })).toBe(
      'ann@xn--bcher-kva.example',
    )
  })

  it('keeps a non-ASCII local part as written', () => {
    expect(normalizeAddress({ local: 'Jörg', domain: 'x.example' })).toBe('Jörg@x.example')
  })
})

describe('toAsciiDomain', () => {
  it('treats the U-label and the A-label as the same domain', () => {
    expect(toAsciiDomain('bücher.example')).toBe(toAsciiDomain('XN--BCHER-KVA.example'))
  })
})

describe('formatMailbox', () => {
  it('quotes and escapes the display name so it reads back the same', () => {
    const formatted = formatMailbox({ name: 'Say "hi" \\ bye', address: 'a@b.example' })
    expect(formatted).toBe('"Say \\"hi\\" \\\\ bye" <a@b.example>')
    expect(parseMailbox(formatted)).toMatchObject({
      name: 'Say "hi" \\ bye',
      address: 'a@b.example',
    })
  })
})
