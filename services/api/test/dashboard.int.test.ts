import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type App, ApiHarness } from './helpers/api-harness.js'

// The dashboard works on a host with no way out: every URL it loads is the API's own.
const h = new ApiHarness()
let app: App
const authorization = 'Bearer admin-secret-0123456789'

beforeAll(() => h.beforeAll())
afterAll(() => h.afterAll())
beforeEach(async () => {
  await h.beforeEach()
  app = await h.makeApp({ OUTBOUND_API_KEYS: 'ops:admin:admin-secret-0123456789' })
})
afterEach(() => h.afterEach())

async function get(url: string) {
  const response = await app.inject({ method: 'GET', url, headers: { authorization } })
  expect(response.statusCode, url).toBe(200)
  return response.body
}

/** Every absolute or protocol-relative URL in a page or a style sheet. */
function externalUrls(text: string): string[] {
  return text.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'()<>]*/gi) ?? []
}

describe('the dashboard page', () => {
  it('loads no font, style or script from another host', async () => {
    const html = await get('/admin/queues')
    expect(html).toContain('<div id="root">')
    expect(externalUrls(html)).toEqual([])

    const sheets = [...html.matchAll(/<link[^>]*href="([^"]+\.css)"/g)].map((m) => m[1] ?? '')
    expect(sheets.length).toBeGreaterThan(0)
    for (const sheet of sheets) {
      const css = await get(new URL(sheet, 'http://api.invalid/admin/queues/').pathname)
      expect(externalUrls(css), sheet).toEqual([])
    }
  })
})
