/**
 * The fields of one header block ("Name: value" lines, folded lines joined), by lower-case name,
 * every value of a repeated field in order. Reads up to the first blank line.
 */
export function headerFields(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>()
  let last: { name: string; index: number } | undefined
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (fields.size > 0) break
      continue
    }
    const field = /^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$/.exec(line)
    if (field !== null) {
      const name = (field[1] ?? '').toLowerCase()
      const values = fields.get(name) ?? []
      values.push((field[2] ?? '').trim())
      fields.set(name, values)
      last = { name, index: values.length - 1 }
    } else if (/^[ \t]/.test(line) && last !== undefined) {
      const values = fields.get(last.name) ?? []
      values[last.index] = `${values[last.index] ?? ''} ${line.trim()}`.trim()
    }
  }
  return fields
}

/** The first value of a field, or null. */
export function firstField(fields: ReadonlyMap<string, string[]>, name: string): string | null {
  const value = fields.get(name)?.[0]
  return value === undefined || value === '' ? null : value
}
