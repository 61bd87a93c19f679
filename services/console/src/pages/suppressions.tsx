import { useState } from 'preact/hooks'
import type { Access } from '../access.js'
import { getJson, send, sendText, type Suppression } from '../api.js'
import { formatDateTime } from '../format.js'
import { formText, Notice, PageTitle, Show } from '../ui.js'
import { useLoad } from '../use-load.js'

const LIMIT = 10_000

/** The suppression list: search, add, remove, import and export CSV. */
export function SuppressionsPage({ access }: { access: Access }) {
  const [loaded, reload] = useLoad(
    () => getJson<Suppression[]>(`/v1/suppressions?limit=${LIMIT}`),
    'suppressions',
  )
  const [query, setQuery] = useState('')
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null)
  const report = (kind: 'ok' | 'error', text: string) => setNote({ kind, text })
  const failed = (err: unknown) => report('error', err instanceof Error ? err.message : String(err))

  const add = async (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const address = formText(data, 'address')
    const reason = formText(data, 'reason')
    const list = formText(data, 'list')
    try {
      await send('POST', '/v1/suppressions', {
        address,
        ...(reason === '' ? {} : { reason }),
        ...(list === '' ? {} : { list }),
      })
      form.reset()
      report('ok', `${address} is suppressed.`)
      reload()
    } catch (err) {
      failed(err)
    }
  }
  const remove = async (entry: Suppression) => {
    const list = entry.list == null ? '' : `?list=${encodeURIComponent(entry.list)}`
    try {
      await send('DELETE', `/v1/suppressions/${encodeURIComponent(entry.address)}${list}`)
      report('ok', `${entry.address} is mailed again.`)
      reload()
    } catch (err) {
      failed(err)
    }
  }
  const importCsv = async (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const file = (form.elements.namedItem('csv') as HTMLInputElement).files?.[0]
    if (file === undefined) return
    try {
      const counts = await sendText<Record<string, unknown>>(
        '/v1/suppressions/import',
        await file.text(),
        'text/csv',
      )
      report(
        'ok',
        `Imported: ${Object.entries(counts)
          .filter(([, value]) => typeof value === 'number')
          .map(([key, value]) => `${String(value)} ${key}`)
          .join(', ')}.`,
      )
      form.reset()
      reload()
    } catch (err) {
      failed(err)
    }
  }

  return (
    <>
      <PageTitle>Suppressions</PageTitle>
      <p>
        Addresses that are not mailed again.{' '}
        <a href="/v1/suppressions?format=csv" download="suppressions.csv">
          Export CSV
        </a>
      </p>
      {access.canAdmin && (
        <div class="grid">
          <form class="card" onSubmit={(e) => void add(e)} aria-labelledby="h-add">
            <h2 id="h-add">Add</h2>
            <div class="field">
              <label for="s-address">Address or *@domain</label>
              <input id="s-address" name="address" type="text" required maxLength={320} />
            </div>
            <div class="field">
              <label for="s-reason">Reason</label>
              <input id="s-reason" name="reason" type="text" maxLength={500} />
            </div>
            <div class="field">
              <label for="s-list">List (empty: every mail)</label>
              <input id="s-list" name="list" type="text" maxLength={100} />
            </div>
            <button type="submit">Suppress</button>
          </form>
          <form class="card" onSubmit={(e) => void importCsv(e)} aria-labelledby="h-import">
            <h2 id="h-import">Import CSV</h2>
            <div class="field">
              <label for="s-csv">File with rows address,reason,list</label>
              <input id="s-csv" name="csv" type="file" accept=".csv,text/csv" required />
            </div>
            <button type="submit">Import</button>
          </form>
        </div>
      )}
      {note !== null && <Notice kind={note.kind}>{note.text}</Notice>}
      <div class="field search">
        <label for="s-search">Search</label>
        <input
          id="s-search"
          type="search"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
      </div>
      <Show loaded={loaded}>
        {(entries) => {
          const needle = query.trim().toLowerCase()
          const shown = entries.filter(
            (e) =>
              needle === '' ||
              e.address.toLowerCase().includes(needle) ||
              e.reason.toLowerCase().includes(needle) ||
              (e.list ?? '').toLowerCase().includes(needle),
          )
          return (
            <>
              <p class="muted" role="status">
                {shown.length} of {entries.length}
                {entries.length === LIMIT ? '+' : ''} entries
              </p>
              <table class="cards">
                <caption class="visually-hidden">Suppressed addresses</caption>
                <thead>
                  <tr>
                    <th scope="col">Address</th>
                    <th scope="col">List</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Since</th>
                    {access.canAdmin && (
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {shown.map((e) => (
                    <tr key={`${e.address}|${e.list ?? ''}`}>
                      <td data-label="Address" class="wrap">
                        {e.address}
                      </td>
                      <td data-label="List">{e.list ?? 'every mail'}</td>
                      <td data-label="Reason" class="wrap">
                        {e.reason}
                      </td>
                      <td data-label="Since">{formatDateTime(e.createdAt)}</td>
                      {access.canAdmin && (
                        <td>
                          <button
                            type="button"
                            class="danger"
                            aria-label={`Remove ${e.address}`}
                            onClick={() => void remove(e)}
                          >
                            Remove
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )
        }}
      </Show>
    </>
  )
}
