import { useState } from 'preact/hooks'
import type { Access } from '../access.js'
import { getJson, send, type Webhook, type WebhookAttempt } from '../api.js'
import { formatDateTime } from '../format.js'
import { Badge, Notice, PageTitle, Show } from '../ui.js'
import { useLoad } from '../use-load.js'

/** Webhook endpoints (admin): their delivery log, replay of an event, a test event. */
export function WebhooksPage({ access }: { access: Access }) {
  if (!access.canAdmin) {
    return (
      <>
        <PageTitle>Webhooks</PageTitle>
        <p>Webhook endpoints carry secrets: they need an API key with the admin scope.</p>
      </>
    )
  }
  return <WebhookList />
}

function WebhookList() {
  const [loaded] = useLoad(() => getJson<Webhook[]>('/v1/webhooks'), 'webhooks')
  return (
    <>
      <PageTitle>Webhooks</PageTitle>
      <Show loaded={loaded}>
        {(hooks) =>
          hooks.length === 0 ? (
            <p class="muted">No endpoints. Create one with POST /v1/webhooks.</p>
          ) : (
            <ul class="stack-list">
              {hooks.map((hook) => (
                <li key={hook.id}>
                  <Endpoint hook={hook} />
                </li>
              ))}
            </ul>
          )
        }
      </Show>
    </>
  )
}

function Endpoint({ hook }: { hook: Webhook }) {
  const [open, setOpen] = useState(false)
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null)
  const [round, setRound] = useState(0)
  const test = async () => {
    try {
      const reply = await send<{ ok: boolean; statusCode: number | null; error: string | null }>(
        'POST',
        `/v1/webhooks/${hook.id}/test`,
      )
      setNote({
        kind: reply?.ok === true ? 'ok' : 'error',
        text: `Test event: ${reply?.ok === true ? 'delivered' : 'not delivered'} (${
          reply?.statusCode ?? reply?.error ?? 'no reply'
        })`,
      })
      setRound((n) => n + 1)
    } catch (err) {
      setNote({ kind: 'error', text: err instanceof Error ? err.message : String(err) })
    }
  }
  const headingId = `wh-${hook.id}`
  return (
    <article class="card" aria-labelledby={headingId}>
      <h2 id={headingId} class="wrap">
        {hook.url} <Badge value={hook.active ? 'active' : 'inactive'} />
      </h2>
      {hook.description !== null && <p>{hook.description}</p>}
      {hook.disabledReason != null && <p>Disabled: {hook.disabledReason}</p>}
      <p class="muted">Events: {hook.events.join(', ')}</p>
      <div class="actions">
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
          Delivery log
        </button>
        <button type="button" onClick={() => void test()}>
          Send test event
        </button>
      </div>
      {note !== null && <Notice kind={note.kind}>{note.text}</Notice>}
      {open && <Deliveries hookId={hook.id} round={round} onNote={setNote} />}
    </article>
  )
}

function Deliveries({
  hookId,
  round,
  onNote,
}: {
  hookId: string
  round: number
  onNote: (note: { kind: 'ok' | 'error'; text: string }) => void
}) {
  const [loaded, reload] = useLoad(
    () => getJson<WebhookAttempt[]>(`/v1/webhooks/${hookId}/deliveries?limit=50`),
    `${hookId}|${round}`,
  )
  const replay = async (eventId: string) => {
    try {
      await send('POST', `/v1/webhooks/${hookId}/deliveries/${encodeURIComponent(eventId)}/retry`)
      onNote({ kind: 'ok', text: `Event ${eventId} is delivered again.` })
      reload()
    } catch (err) {
      onNote({ kind: 'error', text: err instanceof Error ? err.message : String(err) })
    }
  }
  return (
    <Show loaded={loaded}>
      {(attempts) =>
        attempts.length === 0 ? (
          <p class="muted">No deliveries yet.</p>
        ) : (
          <table class="cards">
            <caption class="visually-hidden">Delivery attempts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Result</th>
                <th scope="col">Reply</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={`${a.eventId}-${a.attempt}`}>
                  <td data-label="At">{formatDateTime(a.at)}</td>
                  <td data-label="Event" class="wrap">
                    {a.type}
                    <br />
                    <code class="muted">{a.eventId}</code>
                  </td>
                  <td data-label="Attempt">{a.attempt}</td>
                  <td data-label="Result">
                    <Badge value={a.status} /> {a.statusCode ?? ''} · {a.durationMs} ms
                  </td>
                  <td data-label="Reply" class="wrap">
                    <code>{a.response ?? a.error ?? ''}</code>
                  </td>
                  <td>
                    <button
                      type="button"
                      aria-label={`Replay ${a.eventId}`}
                      onClick={() => void replay(a.eventId)}
                    >
                      Replay
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </Show>
  )
}
