import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// `pnpm bench`'s third contender: a private Postfix instance relaying every message to the same
// sink, so that the raw sender can be pointed at it and Outbound compared with the relay users
// would otherwise run. It has its own configuration and queue directories in a temporary folder,
// listens on loopback only and never touches the machine's own Postfix. Postfix's master runs as
// root and drops to the `postfix` user, so this needs root (a development machine or CI runner);
// without `postfix` on PATH or without root the round is skipped and the table says why.

export type PostfixRelay = { port: number; stop(): void }

/** Why a private Postfix cannot run here, or null when it can. */
export function postfixUnavailable(): string | null {
  if (spawnSync('postfix', ['-h'], { stdio: 'ignore' }).error !== undefined)
    return 'postfix not on PATH (Debian: apt-get install postfix)'
  if (process.getuid?.() !== 0) return 'a private Postfix instance needs root'
  return null
}

/**
 * Starts Postfix listening on 127.0.0.1:`port`, relaying everything to 127.0.0.1:`sinkPort` over
 * `connections` connections at most (the connection count the other contenders get).
 */
export function startPostfixRelay(
  port: number,
  sinkPort: number,
  connections: number,
): PostfixRelay {
  const dir = mkdtempSync(join(tmpdir(), 'outbound-bench-postfix-'))
  // Postfix's daemons run as `postfix`: they must be able to enter the folder and own `data`.
  chmodSync(dir, 0o755)
  mkdirSync(join(dir, 'queue'))
  mkdirSync(join(dir, 'data'))
  const postfixUser = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim())
  chownSync(join(dir, 'data'), postfixUser, -1)
  writeFileSync(
    join(dir, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      `maillog_file_prefixes = ${dir}`,
      `maillog_file = ${dir}/maillog`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'myhostname = bench.localdomain',
      'mydestination =',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      `relayhost = [127.0.0.1]:${sinkPort}`,
      'disable_dns_lookups = yes',
      'smtp_host_lookup = native',
      'smtp_tls_security_level = none',
      'smtpd_tls_security_level = none',
      `default_destination_concurrency_limit = ${connections}`,
      `smtp_destination_concurrency_limit = ${connections}`,
      // Deliver at once, as the other contenders do; a queue run every few minutes would not.
      'queue_run_delay = 1s',
      'minimal_backoff_time = 1s',
      '',
    ].join('\n'),
  )
  const master = readFileSync('/etc/postfix/master.cf', 'utf8').replace(
    /^smtp\s+inet\s.*$/m,
    `127.0.0.1:${port} inet n - n - - smtpd`,
  )
  writeFileSync(join(dir, 'master.cf'), master)
  const started = spawnSync('postfix', ['-c', dir, 'start'], { encoding: 'utf8' })
  if (started.status !== 0) {
    const log = (() => {
      try {
        return readFileSync(join(dir, 'maillog'), 'utf8').split('\n').slice(-5).join('\n')
      } catch {
        return ''
      }
    })()
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`postfix did not start (exit ${started.status}): ${started.stderr}${log}`)
  }
  return {
    port,
    stop: () => {
      spawnSync('postfix', ['-c', dir, 'stop'], { stdio: 'ignore' })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
