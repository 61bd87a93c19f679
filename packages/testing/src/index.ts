export {
  /** Deletes every key under a test prefix; returns how many there were. */
  deleteKeysWithPrefix,
  /** A Redis for one test file (REDIS_URL, else a spawned redis-server, else a container). */
  startTestRedis,
  type TestRedis,
  /** A fresh `test-<random>` key prefix. */
  testPrefix,
} from './test-redis.js'
export {
  type ReceivedMessage,
  type SmtpSink,
  type SmtpSinkOptions,
  /** An in-process SMTP sink on a free port that answers chosen replies per recipient. */
  startSmtpSink,
} from './smtp-sink.js'
export {
  /** The first truthy value of a probe, or a rejection after the timeout. */
  waitFor,
} from './wait-for.js'
export {
  /** A TCP port on 127.0.0.1 that was free a moment ago. */
  freePort,
} from '@outbound/local-redis'
export {
  /** A self-signed certificate for 127.0.0.1 and localhost (needs the openssl command). */
  selfSignedCertificate,
} from './self-signed.js'
export {
  /** A local DNS server answering TXT queries from a zone. */
  startDnsServer,
  type TestDnsServer,
  type Zone,
} from './dns-server.js'
export {
  API_MAIN,
  /** The repository's root (the built services are under it). */
  repo,
  /** Starts the built API on a free port and waits until `/ready` answers. */
  startApi,
  /** Starts a built service with only PATH and `env` (logs at `warn`). */
  startService,
  /** Signals a process and resolves when it has exited. */
  stopService,
  WORKER_MAIN,
} from './built-services.js'
