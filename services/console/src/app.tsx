import { useEffect, useRef, useState } from 'preact/hooks'
import type { Access } from './access.js'
import { ApiError, getJson, send, type Session, SESSION_ENDED } from './api.js'
import { ActivityPage } from './pages/activity.js'
import { MessagePage } from './pages/message.js'
import { MessagesPage } from './pages/messages.js'
import { ServersPage } from './pages/servers.js'
import { SuppressionsPage } from './pages/suppressions.js'
import { WebhooksPage } from './pages/webhooks.js'
import { followLink, useLocation } from './router.js'
import { matchRoute, NAV, type Route } from './routes.js'
import { Notice, PageTitle } from './ui.js'

export function App() {
  const [session, setSession] = useState<Session | 'loading' | { error: string }>('loading')
  useEffect(() => {
    getJson<Session>('/console/session').then(setSession, (err: unknown) =>
      setSession({ error: err instanceof Error ? err.message : String(err) }),
    )
  }, [])
  // A session that ends while the page is open (12 hours, a rotated key) asks for the key again.
  useEffect(() => {
    const ended = () =>
      setSession((current) =>
        typeof current === 'object' && 'signedIn' in current
          ? { ...current, signedIn: false }
          : current,
      )
    window.addEventListener(SESSION_ENDED, ended)
    return () => window.removeEventListener(SESSION_ENDED, ended)
  }, [])
  if (session === 'loading') return <p class="muted">Loading…</p>
  if ('error' in session) return <Notice kind="error">{session.error}</Notice>
  if (!session.signedIn) return <SignIn onSignedIn={setSession} />
  return <Shell session={session} onSignedOut={() => setSession({ ...session, signedIn: false })} />
}

function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const keyField = useRef<HTMLInputElement>(null)
  useEffect(() => keyField.current?.focus(), [])
  const submit = async (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const input = form.elements.namedItem('key') as HTMLInputElement
    setBusy(true)
    try {
      const session = await send<Session>('POST', '/console/session', { key: input.value })
      // The key is in the HttpOnly cookie now; the page keeps no copy.
      input.value = ''
      if (session !== undefined) onSignedIn(session)
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="sign-in">
      <h1>Outbound console</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="key">API key</label>
        <p class="hint" id="key-hint">
          A key with the <code>read</code> scope; <code>admin</code> unlocks changes. It is held in
          an HttpOnly session cookie for 12 hours.
        </p>
        <input
          id="key"
          name="key"
          type="password"
          autocomplete="current-password"
          required
          ref={keyField}
          aria-describedby="key-hint"
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error !== null && <Notice kind="error">{error}</Notice>}
      </form>
    </main>
  )
}

function Shell({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const where = useLocation()
  const route = matchRoute(where.path)
  const access: Access = {
    canSend: session.scopes.includes('send'),
    canAdmin: session.scopes.includes('admin'),
  }
  const signOut = async () => {
    await send('DELETE', '/console/session')
    onSignedOut()
  }
  const active = route.page === 'message' ? 'messages' : route.page
  return (
    <div class="shell" onClick={followLink}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/console/messages">
          Outbound
        </a>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => (
              <li key={item.page}>
                <a href={item.href} aria-current={item.page === active ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            {session.name ?? 'local'}{' '}
            <span class="muted">({access.canAdmin ? 'admin' : 'read only'})</span>
          </span>
          {session.authRequired && (
            <button type="button" class="link" onClick={() => void signOut()}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main">
        <Page route={route} search={where.search} access={access} />
      </main>
    </div>
  )
}

function Page({ route, search, access }: { route: Route; search: string; access: Access }) {
  switch (route.page) {
    case 'messages':
      return <MessagesPage search={search} />
    case 'message':
      return <MessagePage id={route.id} access={access} />
    case 'servers':
      return <ServersPage access={access} />
    case 'activity':
      return <ActivityPage />
    case 'suppressions':
      return <SuppressionsPage access={access} />
    case 'webhooks':
      return <WebhooksPage access={access} />
    case 'not-found':
      return (
        <>
          <PageTitle>Not found</PageTitle>
          <p>
            No page here. <a href="/console/messages">Messages</a>
          </p>
        </>
      )
  }
}
