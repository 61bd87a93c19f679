import { useEffect, useState } from 'preact/hooks'
import { getJson, type MessageSummary } from '../api.js'
import {
  FILTER_KEYS,
  type Filters,
  filtersToSearch,
  MESSAGE_STATUSES,
  parseFilters,
  searchPath,
} from '../filters.js'
import { formatDateTime } from '../format.js'
import { navigate } from '../router.js'
import { messageHref } from '../routes.js'
import { Badge, Notice, PageTitle } from '../ui.js'

const PAGE_SIZE = 50

type Page = { data: MessageSummary[]; nextCursor: string | null }

const LABELS: Record<(typeof FILTER_KEYS)[number], string> = {
  status: 'Status',
  stream: 'Stream',
  to: 'To',
  from: 'From',
  tag: 'Tag',
  reference: 'Reference',
  list: 'List',
  since: 'Since',
  until: 'Until',
}

/** GET /v1/emails: every filter, kept in the URL; one row per message; more on the cursor. */
export function MessagesPage({ search }: { search: string }) {
  const filters = parseFilters(search)
  const key = filtersToSearch(filters)
  const [rows, setRows] = useState<MessageSummary[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [state, setState] = useState<'loading' | 'ready' | { error: string }>('loading')

  const load = async (after: string | null, append: boolean) => {
    setState('loading')
    try {
      const page = await getJson<Page>(searchPath(filters, after, PAGE_SIZE))
      setRows((previous) => (append ? [...previous, ...page.data] : page.data))
      setCursor(page.nextCursor)
      setState('ready')
    } catch (err) {
      setState({ error: err instanceof Error ? err.message : String(err) })
    }
  }
  useEffect(() => {
    setRows([])
    void load(null, false)
    // The filters are the URL's: `key` changes exactly when they do.
  }, [key])
  const [draft, setDraft] = useState<Filters>(filters)
  useEffect(() => setDraft(parseFilters(search)), [key])
  const edit = (name: keyof Filters) => (event: Event) =>
    setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value })

  const submit = (event: Event) => {
    event.preventDefault()
    navigate(`/console/messages${filtersToSearch(draft)}`)
  }

  return (
    <>
      <PageTitle>Messages</PageTitle>
      <form class="filters" onSubmit={submit} aria-label="Search messages">
        <div class="field">
          <label for="f-status">{LABELS.status}</label>
          <select id="f-status" name="status" value={draft.status ?? ''} onChange={edit('status')}>
            <option value="">any</option>
            {MESSAGE_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-stream">{LABELS.stream}</label>
          <select id="f-stream" name="stream" value={draft.stream ?? ''} onChange={edit('stream')}>
            <option value="">any</option>
            <option value="transactional">transactional</option>
            <option value="mass">mass</option>
          </select>
        </div>
        {(['to', 'from', 'tag', 'reference', 'list'] as const).map((name) => (
          <div class="field" key={name}>
            <label for={`f-${name}`}>{LABELS[name]}</label>
            <input
              id={`f-${name}`}
              name={name}
              type="text"
              value={draft[name] ?? ''}
              onInput={edit(name)}
            />
          </div>
        ))}
        {(['since', 'until'] as const).map((name) => (
          <div class="field" key={name}>
            <label for={`f-${name}`}>{LABELS[name]}</label>
            <input
              id={`f-${name}`}
              name={name}
              type="datetime-local"
              step={1}
              value={draft[name] ?? ''}
              onInput={edit(name)}
            />
          </div>
        ))}
        <div class="actions">
          <button type="submit">Search</button>
          <a href="/console/messages">Clear</a>
        </div>
      </form>

      {typeof state === 'object' && <Notice kind="error">{state.error}</Notice>}
      <table class="cards">
        <caption class="visually-hidden">
          Messages, newest first{key === '' ? '' : `, filtered by ${key.slice(1)}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Status</th>
            <th scope="col">Stream</th>
            <th scope="col">From</th>
            <th scope="col">To</th>
            <th scope="col">Subject</th>
            <th scope="col">Server</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m) => (
            <tr key={m.id}>
              <td data-label="Time">
                <a href={messageHref(m.id)}>{formatDateTime(m.createdAt)}</a>
              </td>
              <td data-label="Status">
                <Badge value={m.status} />
              </td>
              <td data-label="Stream">{m.stream}</td>
              <td data-label="From" class="wrap">
                {m.from}
              </td>
              <td data-label="To" class="wrap">
                {m.to.join(', ')}
              </td>
              <td data-label="Subject" class="wrap">
                <a href={messageHref(m.id)}>{m.subject === '' ? '(no subject)' : m.subject}</a>
              </td>
              <td data-label="Server">{m.serverName ?? m.serverId ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {state === 'ready' && rows.length === 0 && <p class="muted">No message matches.</p>}
      {state === 'loading' && (
        <p class="muted" aria-busy="true">
          Loading…
        </p>
      )}
      {state === 'ready' && cursor !== null && (
        <button type="button" onClick={() => void load(cursor, true)}>
          Load {PAGE_SIZE} more
        </button>
      )}
    </>
  )
}
