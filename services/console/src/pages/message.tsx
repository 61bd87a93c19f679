import { useState } from 'preact/hooks'
import type { Access } from '../access.js'
import { ApiError, getJson, getText, type MessageRecord, type QuotaEntry, send } from '../api.js'
import { formatDateTime, formatSmtpCode } from '../format.js'
import { explainRouting } from '../routing-text.js'
import { Badge, Notice, PageTitle, Show } from '../ui.js'
import { useLoad } from '../use-load.js'

const RETRYABLE = new Set(['deferred', 'failed'])
const CANCELLABLE = new Set(['queued', 'scheduled', 'deferred'])

/** One message: status, recipients and their codes, routing, addresses, events, raw, actions. */
export function MessagePage({ id, access }: { id: string; access: Access }) {
  const [loaded, reload] = useLoad(async () => {
    const message = await getJson<MessageRecord>(`/v1/emails/${encodeURIComponent(id)}`)
    if (message.serverName != null || message.serverId === null) return message
    // Records before serverName: the name from GET /v1/quota, which a read key may see.
    const quota = await getJson<QuotaEntry[]>('/v1/quota').catch(() => [])
    const entry = quota.find((q) => q.serverId === message.serverId)
    return { ...message, serverName: entry?.serverName ?? entry?.name ?? null }
  }, id)
  return (
    <Show loaded={loaded}>
      {(message) => <MessageView message={message} access={access} onChanged={reload} />}
    </Show>
  )
}

function MessageView({
  message: m,
  access,
  onChanged,
}: {
  message: MessageRecord
  access: Access
  onChanged: () => void
}) {
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null)
  const routing = explainRouting(m.routing, m)
  const act = async (what: 'retry' | 'cancel') => {
    try {
      if (what === 'retry') await send('POST', `/v1/emails/${encodeURIComponent(m.id)}/retry`)
      else await send('DELETE', `/v1/emails/${encodeURIComponent(m.id)}`)
      setNote({ kind: 'ok', text: what === 'retry' ? 'Retry requested.' : 'Canceled.' })
      onChanged()
    } catch (err) {
      setNote({ kind: 'error', text: err instanceof Error ? err.message : String(err) })
    }
  }
  return (
    <>
      <p class="crumbs">
        <a href="/console/messages">Messages</a> › {m.id}
      </p>
      <PageTitle>{m.subject === '' ? '(no subject)' : m.subject}</PageTitle>
      <p class="lead">
        <Badge value={m.status} /> {m.stream}
        {m.sandbox === true && ' · sandbox'}
        {m.deferredUntil != null && ` · next attempt ${formatDateTime(m.deferredUntil)}`}
      </p>
      {access.canSend && (RETRYABLE.has(m.status) || CANCELLABLE.has(m.status)) && (
        <div class="actions">
          {RETRYABLE.has(m.status) && (
            <button type="button" onClick={() => void act('retry')}>
              Retry now
            </button>
          )}
          {CANCELLABLE.has(m.status) && (
            <button type="button" class="danger" onClick={() => void act('cancel')}>
              Cancel
            </button>
          )}
        </div>
      )}
      {note !== null && <Notice kind={note.kind}>{note.text}</Notice>}

      <div class="grid">
        <section aria-labelledby="h-summary">
          <h2 id="h-summary">Summary</h2>
          <dl>
            <dt>Id</dt>
            <dd>
              <code>{m.id}</code>
            </dd>
            <dt>Accepted</dt>
            <dd>{formatDateTime(m.createdAt)}</dd>
            {m.scheduledAt !== null && (
              <>
                <dt>Scheduled</dt>
                <dd>{formatDateTime(m.scheduledAt)}</dd>
              </>
            )}
            <dt>Sent</dt>
            <dd>{formatDateTime(m.sentAt)}</dd>
            <dt>Attempts</dt>
            <dd>{m.attempts}</dd>
            <dt>Server</dt>
            <dd>{routing?.server ?? m.serverName ?? m.serverId ?? '—'}</dd>
            {m.reference != null && (
              <>
                <dt>Reference</dt>
                <dd>{m.reference}</dd>
              </>
            )}
            {m.tags !== undefined && m.tags.length > 0 && (
              <>
                <dt>Tags</dt>
                <dd>{m.tags.join(', ')}</dd>
              </>
            )}
            {m.smtpResponse !== null && (
              <>
                <dt>Last reply</dt>
                <dd>
                  <code>{m.smtpResponse}</code>
                </dd>
              </>
            )}
            {m.error !== null && (
              <>
                <dt>Error</dt>
                <dd>{m.error}</dd>
              </>
            )}
          </dl>
        </section>

        <section aria-labelledby="h-routing">
          <h2 id="h-routing">Routing</h2>
          {routing === null ? (
            <p class="muted">Not routed yet: a server is chosen when the message is handed over.</p>
          ) : (
            <>
              <p class="routing-headline">
                {routing.headline} → <strong>{routing.server}</strong>
              </p>
              {routing.failover !== null && (
                <p>
                  <Badge value="failover" /> It left through another server: {routing.failover}.
                </p>
              )}
              <p class="muted">{routing.reason}</p>
            </>
          )}
          <h3>Sender</h3>
          <dl>
            <dt>From (as requested)</dt>
            <dd>{m.from}</dd>
            <dt>From header (as sent)</dt>
            <dd>{m.headerFrom ?? '—'}</dd>
            <dt>Envelope sender (MAIL FROM)</dt>
            <dd>{m.envelopeFrom ?? '—'}</dd>
            {m.replyTo !== null && (
              <>
                <dt>Reply-To</dt>
                <dd>{m.replyTo}</dd>
              </>
            )}
          </dl>
          {m.warnings !== undefined && m.warnings.length > 0 && (
            <ul class="warnings">
              {m.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
        </section>
      </div>

      <section aria-labelledby="h-recipients">
        <h2 id="h-recipients">Recipients</h2>
        <table class="cards">
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Status</th>
              <th scope="col">Code</th>
              <th scope="col">Diagnostic</th>
            </tr>
          </thead>
          <tbody>
            {m.recipients.map((r) => (
              <tr key={r.address}>
                <td data-label="Address" class="wrap">
                  {r.address}
                </td>
                <td data-label="Status">
                  <Badge value={r.status} />
                </td>
                <td data-label="Code">
                  <code>{formatSmtpCode(r.smtpCode, r.enhancedCode)}</code>
                </td>
                <td data-label="Diagnostic" class="wrap">
                  {r.diagnostic ?? '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="h-events">
        <h2 id="h-events">Events</h2>
        <ol class="timeline">
          {m.events.map((e, i) => (
            <li key={i}>
              <time dateTime={e.at}>{formatDateTime(e.at)}</time> <Badge value={e.type} />{' '}
              {e.detail ?? ''}
            </li>
          ))}
        </ol>
      </section>

      <RawSource id={m.id} />
    </>
  )
}

function RawSource({ id }: { id: string }) {
  const [raw, setRaw] = useState<{ text: string } | { error: string } | null>(null)
  const show = async () => {
    try {
      setRaw({ text: await getText(`/v1/emails/${encodeURIComponent(id)}/raw`) })
    } catch (err) {
      setRaw({
        error:
          err instanceof ApiError && err.status === 404
            ? `Not available: ${err.message}`
            : String(err instanceof Error ? err.message : err),
      })
    }
  }
  return (
    <section aria-labelledby="h-raw">
      <h2 id="h-raw">Raw source</h2>
      {raw === null && (
        <button type="button" onClick={() => void show()}>
          Show the bytes handed over
        </button>
      )}
      {raw !== null && 'text' in raw && (
        <pre class="raw" tabIndex={0} aria-label="Raw source">
          {raw.text}
        </pre>
      )}
      {raw !== null && 'error' in raw && <Notice kind="info">{raw.error}</Notice>}
    </section>
  )
}
