import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { classifyFailure, parseBounce } from '@outbound/bounce'

// The corpus: real bounces from many mail systems, each with the verdict DOMAIN.md §7 expects
// (judged from the message's own text). See fixtures/corpus/README.md for where they come from.
type Expected = { address: string; kind: 'hard' | 'soft'; reason?: string }
type Entry = { file: string; system: string; bounce: boolean; recipients: Expected[] }
type Outcome = {
  entry: Entry
  isBounce: boolean
  found: number
  verdictsRight: number
  reasonsRight: number
  reasonsExpected: number
  misses: string[]
  reasonMisses: string[]
}

const CORPUS = join(import.meta.dirname, 'fixtures', 'corpus')
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as {
  messages: Entry[]
}

async function judge(entry: Entry): Promise<Outcome> {
  const bounce = await parseBounce(readFileSync(join(CORPUS, entry.file)))
  const outcome: Outcome = {
    entry,
    isBounce: bounce !== null,
    found: 0,
    verdictsRight: 0,
    reasonsRight: 0,
    reasonsExpected: 0,
    misses: [],
    reasonMisses: [],
  }
  for (const expected of entry.recipients) {
    const recipient = bounce?.recipients.find(
      (r) => r.address.toLowerCase() === expected.address.toLowerCase(),
    )
    if (expected.reason !== undefined) outcome.reasonsExpected += 1
    if (recipient === undefined) {
      outcome.misses.push(`${entry.file}: ${expected.address} not found`)
      continue
    }
    outcome.found += 1
    const verdict = classifyFailure({
      smtpCode: recipient.smtpCode,
      enhancedCode: recipient.status,
      text: recipient.diagnostic,
      action: recipient.action,
    })
    if (verdict.kind === expected.kind) outcome.verdictsRight += 1
    else
      outcome.misses.push(
        `${entry.file}: ${expected.address} ${verdict.kind}/${verdict.reason} (${verdict.rule}), expected ${expected.kind}`,
      )
    if (expected.reason !== undefined && verdict.reason === expected.reason)
      outcome.reasonsRight += 1
    else if (expected.reason !== undefined)
      outcome.reasonMisses.push(
        `${entry.file}: ${expected.address} ${verdict.reason} (${verdict.rule}), expected ${expected.reason}`,
      )
  }
  return outcome
}

const percent = (part: number, whole: number) =>
  whole === 0 ? '  -  ' : `${((100 * part) / whole).toFixed(1).padStart(5)}%`

describe('parseBounce and classifyFailure over the corpus of real bounces', () => {
  it('finds at least 97 % of the recipients and gives 95 % of them the right hard/soft verdict', async () => {
    const outcomes = await Promise.all(manifest.messages.map(judge))
    const bySystem = new Map<string, Outcome[]>()
    for (const outcome of outcomes) {
      bySystem.set(outcome.entry.system, [...(bySystem.get(outcome.entry.system) ?? []), outcome])
    }
    const sum = (list: Outcome[], pick: (o: Outcome) => number) =>
      list.reduce((total, o) => total + pick(o), 0)
    const lines = [...bySystem.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([system, list]) => {
        const expected = sum(list, (o) => o.entry.recipients.length)
        return `${system.padEnd(48)} ${String(list.length).padStart(3)} msg  found ${sum(list, (o) => o.found)}/${expected}  verdict ${sum(list, (o) => o.verdictsRight)}/${expected}`
      })
    const bounces = outcomes.filter((o) => o.entry.bounce)
    const expected = sum(bounces, (o) => o.entry.recipients.length)
    const found = sum(bounces, (o) => o.found)
    const right = sum(bounces, (o) => o.verdictsRight)
    const reasons = sum(bounces, (o) => o.reasonsRight)
    const reasonsExpected = sum(bounces, (o) => o.reasonsExpected)
    const nonBounces = outcomes.filter((o) => !o.entry.bounce)
    const misread = outcomes.flatMap((o) => o.misses)
    const reasonMisses = outcomes.flatMap((o) => o.reasonMisses)
    console.log(
      [
        'Bounce corpus, per mail system:',
        ...lines,
        `TOTAL ${bounces.length} bounces from ${new Set(bounces.map((o) => o.entry.system)).size} systems: recipients found ${found}/${expected} (${percent(found, expected)}), ` +
          `hard/soft right ${right}/${expected} (${percent(right, expected)}), reason right ${reasons}/${reasonsExpected} (${percent(reasons, reasonsExpected)}); ` +
          `non-bounces refused ${nonBounces.filter((o) => !o.isBounce).length}/${nonBounces.length}`,
        ...(misread.length > 0 ? ['Misread:', ...misread] : []),
        ...(reasonMisses.length > 0 ? ['Right kind, other reason:', ...reasonMisses] : []),
      ].join('\n'),
    )
    expect(found / expected).toBeGreaterThanOrEqual(0.97)
    expect(right / expected).toBeGreaterThanOrEqual(0.95)
    expect(nonBounces.filter((o) => o.isBounce).map((o) => o.entry.file)).toEqual([])
  })
})
