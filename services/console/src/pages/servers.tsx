import { useState } from 'preact/hooks'
import type { Access } from '../access.js'
import { getJson, type OutgoingServer, type QuotaEntry, send, type ServerState } from '../api.js'
import { formatCount, formatDateTime, quotaShare } from '../format.js'
import { Badge, formText, Notice, PageTitle, Show } from '../ui.js'
import { useLoad } from '../use-load.js'

type Row = { quota: QuotaEntry; server: OutgoingServer | undefined }

/**
 * Each server's state, rate limit, connections, today's quota and last error. GET /v1/servers
 * is admin-only; a read key sees what GET /v1/quota gives (names, states, quotas).
 */
export function ServersPage({ access }: { access: Access }) {
  const [loaded, reload] = useLoad(async (): Promise<Row[]> => {
    const [quota, servers] = await Promise.all([
      getJson<QuotaEntry[]>('/v1/quota'),
      access.canAdmin ? getJson<OutgoingServer[]>('/v1/servers') : Promise.resolve([]),
    ])
    // Configured servers first (in the API's order), the built-in default server last.
    const ordered = [
      ...quota.filter((q) => q.serverId !== 'default'),
      ...quota.filter((q) => q.serverId === 'default'),
    ]
    return ordered.map((entry) => ({
      quota: entry,
      server: servers.find((s) => s.id === entry.serverId),
    }))
  }, String(access.canAdmin))
  return (
    <>
      <PageTitle>Servers</PageTitle>
      {!access.canAdmin && (
        <p class="muted">
          Read-only view: names, states and today&rsquo;s quotas. An admin key shows and edits the
          rest.
        </p>
      )}
      <Show loaded={loaded}>
        {(rows) => (
          <ul class="server-list">
            {rows.map((row) => (
              <li key={row.quota.serverId}>
                <ServerCard row={row} access={access} onChanged={reload} />
              </li>
            ))}
          </ul>
        )}
      </Show>
    </>
  )
}

function stateText(state: ServerState): string {
  const since = `since ${formatDateTime(state.since)}`
  const until = state.until === null ? '' : `, until ${formatDateTime(state.until)}`
  return `${since}${until}`
}

function ServerCard({
  row,
  access,
  onChanged,
}: {
  row: Row
  access: Access
  onChanged: () => void
}) {
  const { quota, server } = row
  const name = quota.serverName ?? quota.name ?? server?.name ?? quota.serverId
  const state = server?.state ?? quota.state
  const [editing, setEditing] = useState(false)
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null)
  const headingId = `srv-${quota.serverId}`
  const run = async (what: string, action: () => Promise<string>) => {
    try {
      setNote({ kind: 'ok', text: await action() })
      onChanged()
    } catch (err) {
      setNote({
        kind: 'error',
        text: `${what}: ${err instanceof Error ? err.message : String(err)}`,
      })
    }
  }
  return (
    <article class="card" aria-labelledby={headingId}>
      <h2 id={headingId}>
        {name} {state !== null && <Badge value={state.status} />}
      </h2>
      {state !== null && (
        <p class="state">
          <span class="visually-hidden">State: </span>
          {state.status} {stateText(state)}
          {state.consecutiveFailures > 0 && ` · ${state.consecutiveFailures} failures in a row`}
        </p>
      )}
      {state?.reason != null && (
        <p>
          Last error: <code>{state.reason}</code>
        </p>
      )}
      <QuotaGauge quota={quota} label={name} />
      {server !== undefined && (
        <dl class="facts">
          <dt>Host</dt>
          <dd>
            {server.host}:{server.port} ({server.security})
          </dd>
          <dt>Rate limit</dt>
          <dd>{server.rateLimit ?? 'none'}</dd>
          <dt>Connections</dt>
          <dd>
            {server.connectionsInUse === undefined
              ? `up to ${server.maxConnections}`
              : `${server.connectionsInUse} of ${server.maxConnections} in use`}
          </dd>
          <dt>From filter</dt>
          <dd>{server.fromFilter ?? 'none (any sender)'}</dd>
          <dt>Sequence</dt>
          <dd>{server.sequence}</dd>
          <dt>Active</dt>
          <dd>{server.active ? 'yes' : 'no'}</dd>
        </dl>
      )}
      {access.canAdmin && server !== undefined && (
        <div class="actions">
          <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            Edit
          </button>
          <button
            type="button"
            onClick={() =>
              void run('Test connection', async () => {
                const result = await send<{ ok: boolean; stage: string; detail: string }>(
                  'POST',
                  `/v1/servers/${server.id}/test`,
                )
                return result === undefined
                  ? 'Tested.'
                  : `Test ${result.ok ? 'passed' : `failed at ${result.stage}`}: ${result.detail}`
              })
            }
          >
            Test connection
          </button>
          {server.state.status !== 'ok' && (
            <button
              type="button"
              onClick={() =>
                void run('Reset state', async () => {
                  await send('POST', `/v1/servers/${server.id}/reset-state`)
                  return 'State reset to ok.'
                })
              }
            >
              Reset state
            </button>
          )}
        </div>
      )}
      {note !== null && <Notice kind={note.kind}>{note.text}</Notice>}
      {editing && server !== undefined && (
        <EditServer
          server={server}
          onDone={(text) => {
            setEditing(false)
            setNote({ kind: 'ok', text })
            onChanged()
          }}
        />
      )}
    </article>
  )
}

/** Today's quota: used of the limit, with the share kept for transactional mail marked. */
function QuotaGauge({ quota, label }: { quota: QuotaEntry; label: string }) {
  const share = quotaShare(quota.used, quota.limit)
  const text =
    quota.limit === null
      ? `${formatCount(quota.used)} sent today, no daily limit`
      : `${formatCount(quota.used)} of ${formatCount(quota.limit)} today`
  const reserveAt =
    quota.limit === null || quota.limit === 0
      ? null
      : (quota.limit - quota.reservedForTransactional) / quota.limit
  return (
    <div class="gauge-wrap">
      <div
        class="gauge"
        role="meter"
        aria-label={`Daily quota of ${label}`}
        aria-valuemin={0}
        aria-valuemax={quota.limit ?? undefined}
        aria-valuenow={quota.used}
        aria-valuetext={text}
      >
        <div class="gauge-used" style={{ width: `${((share ?? 0) * 100).toFixed(1)}%` }} />
        {reserveAt !== null && quota.reservedForTransactional > 0 && (
          <div
            class="gauge-reserve"
            style={{ left: `${(reserveAt * 100).toFixed(1)}%` }}
            title="mass mail stops here: the rest is kept for transactional mail"
          />
        )}
      </div>
      <p class="gauge-text">
        {text}
        {quota.reservedForTransactional > 0 &&
          ` · ${formatCount(quota.reservedForTransactional)} kept for transactional`}
        {` · resets ${formatDateTime(quota.resetsAt)}`}
      </p>
    </div>
  )
}

function EditServer({
  server,
  onDone,
}: {
  server: OutgoingServer
  onDone: (text: string) => void
}) {
  const [error, setError] = useState<string | null>(null)
  const id = (field: string) => `edit-${server.id}-${field}`
  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const text = (name: string) => formText(form, name)
    const orNull = (value: string) => (value === '' ? null : value)
    const number = (value: string) => (value === '' ? null : Number(value))
    const patch: Record<string, unknown> = {
      name: text('name'),
      host: text('host'),
      port: Number(text('port')),
      security: text('security'),
      username: orNull(text('username')),
      fromFilter: orNull(text('fromFilter')),
      sequence: Number(text('sequence')),
      dailyLimit: number(text('dailyLimit')),
      maxConnections: Number(text('maxConnections')),
      rateLimit: orNull(text('rateLimit')),
      failover: form.get('failover') === 'on',
      active: form.get('active') === 'on',
    }
    // An empty password field leaves the stored password as it is.
    if (text('password') !== '') patch['password'] = text('password')
    try {
      await send('PATCH', `/v1/servers/${server.id}`, patch)
      onDone('Saved.')
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    }
  }
  const field = (
    name: string,
    label: string,
    value: string | number | null,
    type: 'text' | 'number' = 'text',
  ) => (
    <div class="field">
      <label for={id(name)}>{label}</label>
      {type === 'number' ? (
        <input
          id={id(name)}
          name={name}
          type="number"
          defaultValue={value === null ? '' : String(value)}
        />
      ) : (
        <input
          id={id(name)}
          name={name}
          type="text"
          defaultValue={value === null ? '' : String(value)}
        />
      )}
    </div>
  )
  return (
    <form class="edit" onSubmit={(e) => void submit(e)} aria-label={`Edit ${server.name}`}>
      {field('name', 'Name', server.name)}
      {field('host', 'Host', server.host)}
      {field('port', 'Port', server.port, 'number')}
      <div class="field">
        <label for={id('security')}>Security</label>
        <select id={id('security')} name="security" defaultValue={server.security}>
          <option value="none">none</option>
          <option value="starttls">starttls</option>
          <option value="tls">tls</option>
        </select>
      </div>
      {field('username', 'User name', server.username)}
      <div class="field">
        <label for={id('password')}>Password</label>
        <input
          id={id('password')}
          name="password"
          type="password"
          autocomplete="new-password"
          placeholder={server.hasPassword === true ? 'unchanged' : 'none'}
        />
      </div>
      {field('fromFilter', 'From filter', server.fromFilter)}
      {field('sequence', 'Sequence', server.sequence, 'number')}
      {field('dailyLimit', 'Daily limit (empty: none)', server.dailyLimit, 'number')}
      {field('maxConnections', 'Max connections', server.maxConnections, 'number')}
      {field('rateLimit', 'Rate limit (e.g. 10/s; empty: none)', server.rateLimit)}
      <div class="field check">
        <input
          id={id('failover')}
          name="failover"
          type="checkbox"
          defaultChecked={server.failover !== false}
        />
        <label for={id('failover')}>Fail over while down</label>
      </div>
      <div class="field check">
        <input id={id('active')} name="active" type="checkbox" defaultChecked={server.active} />
        <label for={id('active')}>Active</label>
      </div>
      <div class="actions">
        <button type="submit">Save</button>
      </div>
      {error !== null && <Notice kind="error">{error}</Notice>}
    </form>
  )
}
