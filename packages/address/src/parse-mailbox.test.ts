import { describe, expect, it } from 'vitest'
import emailAddresses from 'email-addresses'
import {
  formatMailbox,
  normalizeAddress,
  normalizeAddressText,
  parseMailbox,
  toAsciiDomain,
  toAsciiHostname,
} from './parse-mailbox.js'

describe('parseMailbox', () => {
  it.each([
    ['ann@shop.example', null, 'ann@shop.example'],
    ['"Mary" <mary@customer.example.com>', 'Mary', 'mary@customer.example.com'],
    ['Mary Smith <mary@customer.example.com>', 'Mary Smith', 'mary@customer.example.com'],
    ['"Doe, John" <john@x.example>', 'Doe, John', 'john@x.example'],
    ['José <jose@bücher.example>', 'José', 'jose@bücher.example'],
    ['<bare@x.example>', null, 'bare@x.example'],
    // RFC 5322 §3.4.1: the domain is a dot-atom, and atext includes "_" (and "-" anywhere).
    ['test@unknown_domain.com', null, 'test@unknown_domain.com'],
    ['a@x_y.sub_domain.example', null, 'a@x_y.sub_domain.example'],
    ['a@-dash-.example', null, 'a@-dash-.example'],
    ["a@o'neil.example", null, "a@o'neil.example"],
    // RFC 5322 §3.2.3: every atext character in a local part.
    ["a!#$%&'*+-/=?^_`{|}~@x.example", null, "a!#$%&'*+-/=?^_`{|}~@x.example"],
    ['first.last@x.example', null, 'first.last@x.example'],
    // RFC 5322 §3.2.4: a quoted local part.
    ['"with space"@x.example', null, '"with space"@x.example'],
    ['"a\\"b"@x.example', null, '"a\\"b"@x.example'],
    // RFC 6532: UTF-8 in both parts.
    ['Jörg@bücher.example', null, 'Jörg@bücher.example'],
    ['用户@例子.example', null, '用户@例子.example'],
    ['a@localhost', null, 'a@localhost'],
  ])('accepts %s', (input, name, address) => {
    expect(parseMailbox(input)).toMatchObject({ name, address })
  })

  it.each([
    ['', 'empty'],
    ['not an address', 'no @'],
    ['a@b.example, c@d.example', 'two addresses'],
    ['Group: a@b.example;', 'a group'],
    ['a@[127.0.0.1]', 'a domain literal'],
    ['a@b..example', 'an empty label (RFC 5322 dot-atom)'],
    ['a@.example', 'a leading dot'],
    ['a@example.', 'a trailing dot'],
    ['a.@x.example', 'a local part ending in a dot'],
    ['.a@x.example', 'a local part starting with a dot'],
    ['a..b@x.example', 'two dots in a row'],
    ['a b@x.example', 'an unquoted space'],
    ['a@x"y".example', 'a quote in the domain'],
    ['a@x,y.example', 'a comma in the domain'],
    ['a@b@x.example', 'two @'],
    [`a@${'d'.repeat(64)}.example`, 'a 64-octet label'],
    ['"Evil\u202e" <a@b.example>', 'a bidi override in the display name'],
    ['"Evil\u2066" <a@b.example>', 'a bidi isolate in the display name'],
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

  it.each([
    ['unknown_domain.com', 'unknown_domain.com'],
    ['Sub_Domain.Example', 'sub_domain.example'],
    ['a_b.bücher.example', 'a_b.xn--bcher-kva.example'],
  ])('takes the mail domain %s as %s', (input, ascii) => {
    expect(toAsciiDomain(input)).toBe(ascii)
  })

  it.each(['a..b', '.a', 'a.', '[192.0.2.1]', 'a b.example', 'a(b).example', ''])(
    'refuses %j',
    (input) => {
      expect(toAsciiDomain(input)).toBeNull()
    },
  )
})

describe('toAsciiHostname', () => {
  it.each([
    ['smtp.example.com', 'smtp.example.com'],
    ['SMTP.Bücher.example', 'smtp.xn--bcher-kva.example'],
    ['localhost', 'localhost'],
  ])('takes the host %s', (input, ascii) => {
    expect(toAsciiHostname(input)).toBe(ascii)
  })

  it.each(['smtp_relay.example', '-smtp.example', 'a..b', 'smtp!.example'])(
    'refuses the host %j (RFC 1123)',
    (input) => {
      expect(toAsciiHostname(input)).toBeNull()
    },
  )
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

describe('parseMailbox on its fast path', () => {
  // The common shapes skip the full RFC 5322 grammar; they must read exactly as the grammar does.
  it.each([
    'ann@shop.example',
    'Ann.Lee+tag@Shop.Example',
    "o'neil@x_y.example",
    '"Mary" <mary@customer.example.com>',
    '"Doe, John" <john@x.example>',
    '"José" <jose@x.example>',
    '"Mary"<mary@x.example>',
    'Mary Smith <mary@customer.example.com>',
    'Mary <mary@x.example>',
    '"" <empty@x.example>',
    '"  padded  " <p@x.example>',
  ])('%s', (input) => {
    const full = emailAddresses.parseOneAddress({ input, rfc6532: true })
    if (full === null || full.type !== 'mailbox') throw new Error(`the grammar refuses ${input}`)
    const trimmed = full.name?.trim() ?? ''
    expect(parseMailbox(input)).toEqual({
      name: trimmed === '' ? null : trimmed,
      address: full.address,
      local: full.local,
      domain: full.domain,
    })
  })
})

describe('normalizeAddressText', () => {
  // Plain lower-case addresses skip the parse; they must come out as the parse makes them.
  it.each([
    'ann@shop.example',
    'ann.lee+tag@shop.example',
    "o'neil@x_y.example",
    'a..b@x.example',
    '.a@x.example',
    'a.@x.example',
    'a@x..example',
    'a@x.example.',
    'a@.x.example',
    `${'l'.repeat(65)}@x.example`,
    `a@${'d'.repeat(64)}.example`,
    `a@${'d.'.repeat(130)}example`,
    'xn--bcher-kva@xn--bcher-kva.example',
    '{a}@b|c.example',
  ])('%s', (input) => {
    const mailbox = parseMailbox(input)
    const slow = mailbox === null ? input.trim().toLowerCase() : normalizeAddress(mailbox)
    expect(normalizeAddressText(input)).toBe(slow)
  })

  it('normalizes what is not plain lower-case ASCII', () => {
    expect(normalizeAddressText('Ann@Shop.Example')).toBe('ann@shop.example')
    expect(normalizeAddressText('"Ann" <ann@bücher.example>')).toBe('ann@xn--bcher-kva.example')
  })
})
