import { useMemo, useState } from 'preact/hooks'
import { getJson, type QuotaEntry } from '../api.js'
import { Chart, type Series } from '../chart.js'
import { formatCount, formatDateTime, formatPercent } from '../format.js'
import { complaintRate, readStats, statsPath, totals } from '../stats.js'
import { Notice, PageTitle, Show } from '../ui.js'
import { useLoad } from '../use-load.js'

const RANGES = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30 } as const
type Range = keyof typeof RANGES

// Gmail's bulk-sender thresholds for the complaint rate.
const WARN = 0.001
const LIMIT = 0.003

/** Charts over time from GET /v1/stats: by stream and server, per hour or day. */
export function ActivityPage() {
  const [range, setRange] = useState<Range>('24h')
  const [interval, setIntervalKind] = useState<'hour' | 'day'>('hour')
  const [stream, setStream] = useState('')
  const [serverId, setServerId] = useState('')
  const [servers] = useLoad(() => getJson<QuotaEntry[]>('/v1/quota'), 'servers')
  const query = `${range}|${interval}|${stream}|${serverId}`
  const [loaded] = useLoad(async () => {
    const until = new Date()
    const since = new Date(until.getTime() - RANGES[range] * 3_600_000)
    const answer = await getJson<unknown>(statsPath({ since, until, interval, stream, serverId }))
    return { stats: readStats(answer), until }
  }, query)

  return (
    <>
      <PageTitle>Activity</PageTitle>
      <form class="filters" aria-label="Activity range" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="a-range">Range</label>
          <select
            id="a-range"
            value={range}
            onChange={(e) => {
              const next = e.currentTarget.value as Range
              setRange(next)
              if (next === '30d') setIntervalKind('day')
            }}
          >
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
          </select>
        </div>
        <div class="field">
          <label for="a-interval">Per</label>
          <select
            id="a-interval"
            value={interval}
            onChange={(e) => setIntervalKind(e.currentTarget.value as 'hour' | 'day')}
          >
            <option value="hour">hour</option>
            <option value="day">day</option>
          </select>
        </div>
        <div class="field">
          <label for="a-stream">Stream</label>
          <select id="a-stream" value={stream} onChange={(e) => setStream(e.currentTarget.value)}>
            <option value="">both</option>
            <option value="transactional">transactional</option>
            <option value="mass">mass</option>
          </select>
        </div>
        <div class="field">
          <label for="a-server">Server</label>
          <select
            id="a-server"
            value={serverId}
            onChange={(e) => setServerId(e.currentTarget.value)}
          >
            <option value="">all</option>
            {servers.state === 'ready' &&
              servers.value.map((s) => (
                <option key={s.serverId} value={s.serverId}>
                  {s.serverName ?? s.name ?? s.serverId}
                </option>
              ))}
          </select>
        </div>
      </form>
      <Show loaded={loaded}>
        {({ stats, until }) => <ActivityCharts stats={stats} until={until} />}
      </Show>
    </>
  )
}

function ActivityCharts({ stats, until }: { stats: ReturnType<typeof readStats>; until: Date }) {
  const { buckets } = stats
  const times = useMemo(() => buckets.map((b) => Date.parse(b.start) / 1000), [buckets])
  const outcomes: Series[] = useMemo(
    () => [
      { label: 'sent', values: buckets.map((b) => b.sent), color: '#1a7f37' },
      { label: 'deferred', values: buckets.map((b) => b.deferred), color: '#9a6700' },
      { label: 'bounced (hard)', values: buckets.map((b) => b.bouncedHard), color: '#cf222e' },
      {
        label: 'bounced (soft)',
        values: buckets.map((b) => b.bouncedSoft),
        color: '#e16f24',
        dash: [6, 4],
      },
      { label: 'complained', values: buckets.map((b) => b.complained), color: '#8250df' },
    ],
    [buckets],
  )
  const rates: Series[] = useMemo(
    () => [
      {
        label: 'complaint rate',
        values: buckets.map((b) => (b.sent === 0 ? 0 : b.complained / b.sent)),
        color: '#8250df',
      },
      { label: '0.1 % (warning)', values: buckets.map(() => WARN), color: '#9a6700', dash: [4, 4] },
      {
        label: '0.3 % (Gmail limit)',
        values: buckets.map(() => LIMIT),
        color: '#cf222e',
        dash: [4, 4],
      },
    ],
    [buckets],
  )
  const sum = totals(buckets)
  const rate24h =
    stats.complaintRate24h ?? complaintRate(buckets, new Date(until.getTime() - 86_400_000))
  if (buckets.length === 0) return <p class="muted">No activity in this range.</p>
  return (
    <>
      <section aria-labelledby="h-outcomes">
        <h2 id="h-outcomes">Outcomes (recipients)</h2>
        <Chart
          title="Sent, deferred, bounced and complained per bucket"
          times={times}
          series={outcomes}
        />
      </section>
      <section aria-labelledby="h-complaints">
        <h2 id="h-complaints">Complaint rate</h2>
        <p>
          Last 24 hours: <strong>{formatPercent(rate24h)}</strong>
          {rate24h !== null && rate24h >= LIMIT && ' — over Gmail’s 0.3 % limit'}
          {rate24h !== null &&
            rate24h >= WARN &&
            rate24h < LIMIT &&
            ' — over the 0.1 % warning line'}
        </p>
        {rate24h !== null && rate24h >= WARN && (
          <Notice kind="error">The complaint rate is over {formatPercent(WARN)}.</Notice>
        )}
        <Chart
          title="Complaint rate per bucket, with the 0.1 % and 0.3 % lines"
          times={times}
          series={rates}
          formatValue={formatPercent}
          height={180}
        />
      </section>
      <section aria-labelledby="h-totals">
        <h2 id="h-totals">Totals</h2>
        <table class="totals">
          <tbody>
            {(
              [
                ['accepted (messages)', sum.accepted],
                ['sent', sum.sent],
                ['deferred', sum.deferred],
                ['bounced, hard', sum.bouncedHard],
                ['bounced, soft', sum.bouncedSoft],
                ['failed', sum.failed],
                ['suppressed', sum.suppressed],
                ['complained', sum.complained],
                ['unsubscribed', sum.unsubscribed],
              ] as const
            ).map(([label, value]) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                <td>{formatCount(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="muted">
          {buckets.length} buckets from {formatDateTime(buckets[0]?.start)} to{' '}
          {formatDateTime(buckets.at(-1)?.start)}.
        </p>
      </section>
    </>
  )
}
