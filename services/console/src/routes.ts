// The console's pages, each a deep link under /console (CONTRACT.md, Operator console).

export const BASE = '/console'

export type Route =
  | { page: 'messages' }
  | { page: 'message'; id: string }
  | { page: 'servers' }
  | { page: 'activity' }
  | { page: 'suppressions' }
  | { page: 'webhooks' }
  | { page: 'not-found' }

export const NAV: readonly { page: Route['page']; label: string; href: string }[] = [
  { page: 'messages', label: 'Messages', href: `${BASE}/messages` },
  { page: 'servers', label: 'Servers', href: `${BASE}/servers` },
  { page: 'activity', label: 'Activity', href: `${BASE}/activity` },
  { page: 'suppressions', label: 'Suppressions', href: `${BASE}/suppressions` },
  { page: 'webhooks', label: 'Webhooks', href: `${BASE}/webhooks` },
]

/** The page a path shows; /console alone shows the messages. */
export function matchRoute(path: string): Route {
  const rest = path.startsWith(BASE) ? path.slice(BASE.length).replace(/\/+$/, '') : null
  if (rest === null) return { page: 'not-found' }
  if (rest === '' || rest === '/messages') return { page: 'messages' }
  const message = /^\/messages\/([^/]+)$/.exec(rest)
  if (message?.[1] !== undefined) return { page: 'message', id: decodeURIComponent(message[1]) }
  switch (rest) {
    case '/servers':
      return { page: 'servers' }
    case '/activity':
      return { page: 'activity' }
    case '/suppressions':
      return { page: 'suppressions' }
    case '/webhooks':
      return { page: 'webhooks' }
    default:
      return { page: 'not-found' }
  }
}

export const messageHref = (id: string) => `${BASE}/messages/${encodeURIComponent(id)}`
