import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import {
  startApi,
  freePort,
  repo,
  type SmtpSink,
  startService,
  startSmtpSink,
  startTestRedis,
  stopService,
  type TestRedis,
  waitFor,
  WORKER_MAIN,
} from '@outbound/testing'

// The console end to end: the built API and worker processes (`pnpm build` first; `pnpm test`
// does it), a private Redis, SMTP sinks, a webhook receiver and Debian's chromium, headless.

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
export const ADMIN_KEY = 'console-admin-secret-0123456789'
export const READ_KEY = 'console-reader-secret-0123456789'
export const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const
/** Where the screenshots go (not committed): CONSOLE_SCREENSHOTS, else a temporary folder. */
export const SCREENSHOTS =
  process.env['CONSOLE_SCREENSHOTS'] ?? join(tmpdir(), 'outbound-console-screenshots')

/** Fails with what to do when the browser is missing: never a silent skip. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the console's browser tests need Debian's chromium at ${CHROMIUM}: ` +
        '`sudo apt-get install -y chromium` (.ci/run installs it), or set CHROMIUM_PATH',
    )
  }
  if (!existsSync(join(repo, 'services/console/dist/index.html'))) {
    throw new Error('the console is not built: run `pnpm build` at the repository root first')
  }
}

export type Stack = {
  base: string
  redis: TestRedis
  sink: SmtpSink
  webhookHits: () => number
  webhookUrl: string
  browser: Browser
  api: <T = Record<string, unknown>>(method: string, path: string, body?: object) => Promise<T>
  stop: () => Promise<void>
}

/** Redis, a sink answering `replies`, the API (admin and read keys), one worker, chromium. */
export async function startStack(replies: Record<string, string | string[]>): Promise<Stack> {
  requireChromium()
  const stops: (() => Promise<unknown>)[] = []
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step()
  }
  try {
    const redis = await startTestRedis()
    stops.push(() => redis.stop())
    const sink = await startSmtpSink({ replies })
    stops.push(() => sink.close())
    let hits = 0
    const receiver: Server = createServer((request, response) => {
      hits++
      request.resume()
      request.on('end', () => response.writeHead(200).end('thanks'))
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    stops.push(() => new Promise((r) => receiver.close(r)))
    const address = receiver.address()
    const webhookUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/hook`

    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const env = {
      REDIS_URL: redis.url,
      OUTBOUND_API_KEYS: `ops:read+send+admin:${ADMIN_KEY},viewer:read:${READ_KEY}`,
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      // Webhook secrets are sealed at rest.
      OUTBOUND_SECRET_KEY: randomBytes(32).toString('base64'),
    }
    const apiProcess = (await startApi(env, port)).child
    stops.push(() => stopService(apiProcess))
    const worker = startService(WORKER_MAIN, ['--pool', 'all'], env)
    stops.push(() => stopService(worker))

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    })
    stops.push(() => browser.close())
    mkdirSync(SCREENSHOTS, { recursive: true })

    const api = async <T>(method: string, path: string, body?: object): Promise<T> => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const text = await response.text()
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
      return (text === '' ? undefined : JSON.parse(text)) as T
    }
    return { base, redis, sink, webhookHits: () => hits, webhookUrl, browser, api, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** What a browser context saw: every URL it asked for, and every console error. */
export type Watched = { context: BrowserContext; page: Page; urls: string[]; errors: string[] }

/** A new browser context whose every request is recorded, and refused unless it is the API's. */
export async function openContext(
  stack: Stack,
  size: { width: number; height: number } = SIZES[0],
): Promise<Watched> {
  const context = await stack.browser.newContext({ viewport: size })
  const urls: string[] = []
  const errors: string[] = []
  await context.route('**/*', async (route) => {
    const url = route.request().url()
    urls.push(url)
    if (url.startsWith(`${stack.base}/`)) await route.continue()
    else await route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  // Fail in seconds, not at the test's timeout, when something never shows.
  page.setDefaultTimeout(10_000)
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(error.message))
  return { context, page, urls, errors }
}

/** Signs in through the page's form with a key. */
export async function signIn(watched: Watched, stack: Stack, key: string, path: string) {
  const { page } = watched
  await page.goto(`${stack.base}${path}`)
  await page.getByLabel('API key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('navigation', { name: 'Console' }).waitFor()
}

/** A screenshot of the current page at both sizes. */
export async function screenshots(page: Page, name: string): Promise<void> {
  for (const size of SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height })
    await page.waitForTimeout(150)
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${size.name}.png`), fullPage: true })
  }
  await page.setViewportSize({ width: SIZES[0].width, height: SIZES[0].height })
}

/** Polls the API until a message has one of these statuses. */
export async function waitForStatus(stack: Stack, id: string, statuses: readonly string[]) {
  return await waitFor(
    async () => {
      await new Promise((r) => setTimeout(r, 100))
      const record = await stack.api<{ status: string }>('GET', `/v1/emails/${id}`)
      return statuses.includes(record.status) ? record : undefined
    },
    { timeoutMs: 30_000, what: `message ${id} to be ${statuses.join(' or ')}` },
  )
}
