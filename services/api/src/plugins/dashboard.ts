import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { FastifyInstance } from 'fastify'
import type { Queue } from 'bullmq'
import { AppError } from '../errors.js'
import type { Authenticator } from './auth.js'

export const DASHBOARD_PATH = '/admin/queues'

export type DashboardOptions = {
  queues: readonly Queue[]
  authenticate: Authenticator
  /** Retry, promote and remove buttons; off unless DASHBOARD_READ_ONLY=false. */
  readOnly: boolean
}

// A <link> or <script> tag that loads from another host (Bull Board's page asks Google Fonts).
const EXTERNAL_TAG =
  /<(link|script)\b[^>]*\b(?:href|src)\s*=\s*["']?(?:https?:)?\/\/[^>]*>(?:\s*<\/script>)?/gi

/**
 * The page without tags that load from another host: nothing the dashboard asks for leaves this
 * API. Bull Board (9.10.1) has no option for its fonts; without them the page uses the browser's
 * sans-serif and monospace fonts.
 */
function withoutExternalResources(html: string): string {
  return html.replace(EXTERNAL_TAG, '')
}

/**
 * Bull Board at /admin/queues for the admin scope. A browser can open it: HTTP Basic with the API
 * key's secret as password (any user name) is accepted besides Bearer. Job ids are message ids.
 */
export async function dashboard(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const serverAdapter = new FastifyAdapter()
  serverAdapter.setBasePath(DASHBOARD_PATH)
  createBullBoard({
    queues: options.queues.map(
      (queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Outbound' } },
  })
  await app.register(async (scope) => {
    // Answers here rather than throwing: Bull Board's own error handler would reshape the body.
    scope.addHook('onRequest', async (request, reply) => {
      try {
        options.authenticate(request, 'admin', { allowBasic: true })
      } catch (err) {
        if (!(err instanceof AppError)) throw err
        if (err.statusCode === 401)
          void reply.header('www-authenticate', 'Basic realm="Outbound", charset="UTF-8"')
        return await reply.status(err.statusCode).send(err.toBody())
      }
      return undefined
    })
    scope.addHook('onSend', async (_request, reply, payload) => {
      const type = reply.getHeader('content-type')
      if (typeof payload !== 'string' || typeof type !== 'string' || !type.includes('text/html')) {
        return payload
      }
      return withoutExternalResources(payload)
    })
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH })
  })
}
