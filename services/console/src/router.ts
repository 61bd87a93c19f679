import { useEffect, useState } from 'preact/hooks'

// A few lines of history-API routing: the API serves the app for every path under /console, and
// the app picks the page from the path (see routes.ts).

const NAVIGATE = 'outbound:navigate'

export type Location = { path: string; search: string }

const current = (): Location => ({ path: location.pathname, search: location.search })

/** Goes to a path of the app without a page load (pushState; replace for filter edits). */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace === true) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  window.dispatchEvent(new Event(NAVIGATE))
}

/** The current path and query, following back/forward and navigate(). */
export function useLocation(): Location {
  const [where, setWhere] = useState(current)
  useEffect(() => {
    const update = () => setWhere(current())
    window.addEventListener('popstate', update)
    window.addEventListener(NAVIGATE, update)
    return () => {
      window.removeEventListener('popstate', update)
      window.removeEventListener(NAVIGATE, update)
    }
  }, [])
  return where
}

/** A click on an in-app link, without a modifier key, navigates in place. */
export function followLink(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0) return
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const anchor = (event.target as Element | null)?.closest('a')
  if (
    anchor === null ||
    anchor === undefined ||
    anchor.target !== '' ||
    anchor.hasAttribute('download')
  )
    return
  const url = new URL(anchor.href, location.href)
  if (url.origin !== location.origin || !url.pathname.startsWith('/console')) return
  // An anchor on this page (the skip link): the browser scrolls and moves the focus itself.
  if (url.hash !== '' && url.pathname === location.pathname && url.search === location.search)
    return
  event.preventDefault()
  navigate(url.pathname + url.search)
}
