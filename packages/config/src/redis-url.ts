/** Redis behind Sentinel: where the sentinels are and which master they watch. */
export type SentinelTarget = {
  sentinels: { host: string; port: number }[]
  /** The master's name as the sentinels know it. */
  name: string
  username: string | undefined
  password: string | undefined
  db: number
}

/**
 * Parses `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/master-name[/db]`
 * (port 26379 by default); null when the URL is not of that form.
 */
export function parseSentinelUrl(url: string): SentinelTarget | null {
  const match =
    /^redis\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/([^/?#]+)(?:\/(\d+))?\/?$/.exec(url)
  if (match === null) return null
  const [, user, pass, hostList = '', name = '', db] = match
  const sentinels = parseHosts(hostList, 26379)
  if (sentinels === null) return null
  return {
    sentinels,
    name: decodeURIComponent(name),
    username: user === undefined || user === '' ? undefined : decodeURIComponent(user),
    password: pass === undefined || pass === '' ? undefined : decodeURIComponent(pass),
    db: Number(db ?? 0),
  }
}

/** Redis Cluster: some of its nodes (the client discovers the rest). */
export type ClusterTarget = {
  nodes: { host: string; port: number }[]
  username: string | undefined
  password: string | undefined
}

/** Parses `redis+cluster://[[user]:password@]host[:port][,host[:port]…]` (port 6379 by default). */
export function parseClusterUrl(url: string): ClusterTarget | null {
  const match = /^redis\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/?$/.exec(url)
  if (match === null) return null
  const [, user, pass, hostList = ''] = match
  const nodes = parseHosts(hostList, 6379)
  if (nodes === null) return null
  return {
    nodes,
    username: user === undefined || user === '' ? undefined : decodeURIComponent(user),
    password: pass === undefined || pass === '' ? undefined : decodeURIComponent(pass),
  }
}

function parseHosts(list: string, defaultPort: number): { host: string; port: number }[] | null {
  const hosts: { host: string; port: number }[] = []
  for (const entry of list.split(',')) {
    const hostMatch = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(entry.trim())
    if (hostMatch === null) return null
    const port = Number(hostMatch[2] ?? defaultPort)
    if (port < 1 || port > 65_535) return null
    hosts.push({ host: (hostMatch[1] ?? '').replace(/^\[(.*)\]$/, '$1'), port })
  }
  return hosts
}
