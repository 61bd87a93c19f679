import { describe, expect, it } from 'vitest'
import { checkJsonBounds } from './check-json-bounds.js'

const bounds = { maxDepth: 3, maxValues: 10 }

describe('checkJsonBounds', () => {
  it.each<[string, string, ReturnType<typeof checkJsonBounds>]>([
    ['a flat object', '{"a":1,"b":[1,2]}', { ok: true }],
    ['three levels', '[[[1]]]', { ok: true }],
    ['four levels', '[[[[1]]]]', { ok: false, exceeded: 'depth' }],
    ['four levels of objects', '{"a":{"b":{"c":{}}}}', { ok: false, exceeded: 'depth' }],
    ['brackets inside a string', '["[[[[[[", "]]]"]', { ok: true }],
    ['an escaped quote inside a string', '["\\"[[[[[[", 1]', { ok: true }],
    [
      'an escaped backslash before the closing quote',
      '["a\\\\", [[[[1]]]]]',
      { ok: false, exceeded: 'depth' },
    ],
    ['ten values', '[1,2,3,4,5,6,7,8,9]', { ok: true }],
    ['eleven values', '[1,2,3,4,5,6,7,8,9,10]', { ok: false, exceeded: 'values' }],
    ['many empty arrays', '[[],[],[],[],[],[]]', { ok: false, exceeded: 'values' }],
    ['commas inside a string', '[",,,,,,,,,,,,,,,,,,,,"]', { ok: true }],
    ['an unterminated string', '["[[[[[[', { ok: true }],
  ])('%s', (_what, text, expected) => {
    expect(checkJsonBounds(text, bounds)).toEqual(expected)
  })
})
