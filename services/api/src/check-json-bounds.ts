export type JsonBounds = { maxDepth: number; maxValues: number }

export type JsonBoundsCheck = { ok: true } | { ok: false; exceeded: 'depth' | 'values' }

const QUOTE = 34 // "
const BACKSLASH = 92
const OPEN_ARRAY = 91 // [
const OPEN_OBJECT = 123 // {
const CLOSE_ARRAY = 93
const CLOSE_OBJECT = 125
const COMMA = 44

/** The index of the quote that closes the string opened just before `from`; -1 if none. */
function stringEnd(text: string, from: number): number {
  let quote = text.indexOf('"', from)
  while (quote !== -1) {
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote
    quote = text.indexOf('"', quote + 1)
  }
  return -1
}

/**
 * Whether JSON text stays within a nesting depth and a number of values, found in one pass that
 * skips strings. JSON.parse costs about a microsecond per array or object whatever its size, so a
 * few MiB of `[[],[],…]` block the event loop for seconds; this scan costs a few milliseconds per
 * MiB. Values are counted as containers plus commas (an upper bound of elements and members).
 * Malformed JSON is not this function's concern: JSON.parse refuses it after.
 */
export function checkJsonBounds(text: string, bounds: JsonBounds): JsonBoundsCheck {
  let depth = 0
  let values = 1
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === QUOTE) {
      const end = stringEnd(text, i + 1)
      if (end === -1) return { ok: true }
      i = end
    } else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      depth++
      values++
      if (depth > bounds.maxDepth) return { ok: false, exceeded: 'depth' }
      if (values > bounds.maxValues) return { ok: false, exceeded: 'values' }
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) {
      depth--
    } else if (code === COMMA) {
      values++
      if (values > bounds.maxValues) return { ok: false, exceeded: 'values' }
    }
  }
  return { ok: true }
}
