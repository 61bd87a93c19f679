import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADMIN_KEY,
  openContext,
  screenshots,
  signIn,
  type Stack,
  startStack,
  waitForStatus,
  type Watched,
} from './helpers/stack.js'

// The console's pages over the routes of the integrators' wave that other branches build: search
// (GET /v1/emails), stats, raw source and retry. These pass once those routes are merged.
let stack: Stack
let admin: Watched
// What beforeAll started, stopped in reverse (beforeAll may fail half way).
const cleanups: (() => Promise<void>)[] = []
const ids = { sent: '', bounced: '', deferred: '' }

beforeAll(async () => {
  stack = await startStack({
    'bounce@example.com': '550 5.1.1 <bounce@example.com>: no such user',
    'later@example.com': '451 4.2.0 mailbox busy, try later',
  })
  cleanups.push(() => stack.stop())
  await stack.api('POST', '/v1/servers', {
    name: 'Primary',
    host: '127.0.0.1',
    port: stack.sink.port,
    security: 'none',
    fromFilter: 'shop.example',
  })
  await new Promise((r) => setTimeout(r, 1500))
  const send = async (to: string, subject: string, extra: object = {}) =>
    (
      await stack.api<{ id: string }>('POST', '/v1/emails', {
        from: 'ann@shop.example',
        to: [to],
        subject,
        text: 'hello',
        tags: ['invoice'],
        ...extra,
      })
    ).id
  ids.sent = await send('ok@example.com', 'Invoice 42')
  ids.bounced = await send('bounce@example.com', 'Bad address')
  ids.deferred = await send('later@example.com', 'Busy mailbox')
  await stack.api('POST', '/v1/emails/batch', {
    emails: Array.from({ length: 55 }, (_, i) => ({
      from: 'ann@shop.example',
      to: [`r${i}@example.com`],
      subject: `Newsletter ${i}`,
      text: 'x',
      stream: 'mass',
      tags: ['bulk'],
    })),
  })
  await waitForStatus(stack, ids.sent, ['sent'])
  await waitForStatus(stack, ids.bounced, ['bounced'])
  await waitForStatus(stack, ids.deferred, ['deferred'])
  await stack.sink.waitForMessages(56, 30_000)
  admin = await openContext(stack)
  cleanups.push(() => admin.context.close())
  await signIn(admin, stack, ADMIN_KEY, '/console/messages')
}, 120_000)

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('the console over search, stats, raw and retry', () => {
  it('finds a sent message through the search form, keeps the filters in the URL, and opens it', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/messages`)
    await page.getByLabel('Status').selectOption('sent')
    await page.getByLabel('Tag').fill('invoice')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.waitForURL(`${stack.base}/console/messages?status=sent&tag=invoice`)
    const row = page.getByRole('row', { name: /Invoice 42/ })
    await row.waitFor()
    expect(await page.getByRole('row', { name: /Bad address/ }).count()).toBe(0)
    expect(await row.textContent()).toContain('Primary')
    await screenshots(page, 'messages')
    await row.getByRole('link', { name: 'Invoice 42' }).click()
    await page.getByRole('heading', { level: 1, name: 'Invoice 42' }).waitFor()
    expect(await page.getByRole('region', { name: 'Recipients' }).textContent()).toContain('250')
    expect(await page.getByRole('region', { name: 'Routing' }).textContent()).toContain(
      "Step 1 of 5: the sender's domain matched a from filter → Primary",
    )
  })

  it('finds a bounced message from a deep link and shows its 550 5.1.1 and routing', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/messages?status=bounced&tag=invoice`)
    expect(await page.getByLabel('Status').inputValue()).toBe('bounced')
    const row = page.getByRole('row', { name: /Bad address/ })
    await row.waitFor()
    await row.getByRole('link', { name: 'Bad address' }).click()
    await page.getByRole('heading', { level: 1, name: 'Bad address' }).waitFor()
    expect(await page.getByRole('region', { name: 'Recipients' }).textContent()).toContain(
      '550 5.1.1',
    )
    expect(await page.getByRole('region', { name: 'Routing' }).textContent()).toContain('Primary')
  })

  it('pages on the cursor', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/messages?tag=bulk`)
    await page
      .getByRole('row', { name: /Newsletter/ })
      .first()
      .waitFor()
    expect(await page.getByRole('row', { name: /Newsletter/ }).count()).toBe(50)
    await page.getByRole('button', { name: 'Load 50 more' }).click()
    await expect.poll(() => page.getByRole('row', { name: /Newsletter/ }).count()).toBe(55)
    expect(await page.getByRole('button', { name: 'Load 50 more' }).count()).toBe(0)
  })

  it('shows the raw source of a sent message', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/messages/${ids.sent}`)
    await page.getByRole('button', { name: 'Show the bytes handed over' }).click()
    const raw = page.getByRole('region', { name: 'Raw source' }).locator('pre')
    await raw.waitFor()
    expect(await raw.textContent()).toMatch(/^Subject: Invoice 42\r?$/m)
    await screenshots(page, 'message-raw')
  })

  it('retries a deferred message', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/messages/${ids.deferred}`)
    await page.getByRole('button', { name: 'Retry now' }).click()
    await page.getByText('Retry requested.').waitFor()
  })

  it('draws the activity: outcomes and the complaint rate with its 0.1 % and 0.3 % lines', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/activity`)
    await page.getByRole('heading', { name: 'Outcomes (recipients)' }).waitFor()
    expect(await page.locator('.chart canvas').count()).toBe(2)
    // The totals table (the chart's legend has rows named after the series too).
    const sent = page.locator('table.totals').getByRole('row', { name: /^sent/ })
    expect(Number((await sent.getByRole('cell').textContent())?.replace(/,/g, ''))).toBeGreaterThan(
      50,
    )
    expect(await page.locator('.chart').nth(1).textContent()).toContain('0.3 % (Gmail limit)')
    await screenshots(page, 'activity')
    await page.getByLabel('Stream').selectOption('mass')
    await expect
      .poll(async () => Number((await sent.getByRole('cell').textContent())?.replace(/,/g, '')))
      .toBe(55)
  })

  it('imports suppressions from a CSV file and exports them as CSV', async () => {
    const { page } = admin
    await page.goto(`${stack.base}/console/suppressions`)
    await page.getByLabel('File with rows address,reason,list').setInputFiles({
      name: 'list.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        'address,reason,list\none@example.com,asked,\ntwo@example.com,asked,news\n',
      ),
    })
    await page.getByRole('button', { name: 'Import' }).click()
    await page.getByText(/^Imported: .*2 added/).waitFor()
    await page.getByRole('row', { name: /two@example\.com.*news/ }).waitFor()
    const download = page.waitForEvent('download')
    await page.getByRole('link', { name: 'Export CSV' }).click()
    const file = await (await download).path()
    const csv = readFileSync(file, 'utf8')
    expect(csv).toContain('one@example.com')
    expect(csv).toMatch(/two@example\.com.*news/)
  })

  it('asked for nothing but the API’s own URLs, and logged no error in the browser console', () => {
    expect(admin.urls.filter((url) => !url.startsWith(`${stack.base}/`))).toEqual([])
    expect(admin.errors).toEqual([])
  })
})
