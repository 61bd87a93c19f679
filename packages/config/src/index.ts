export {
  type ApiConfig,
  type ApiKey,
  type LogLevel,
  type PoolName,
  type Scope,
  type SendLimits,
  type WorkerConfig,
  /** True for 127.0.0.0/8, ::1 and localhost. */
  isLoopbackHost,
  /** The API process's configuration; throws one ConfigError naming every problem. */
  loadApiConfig,
  /** A worker process's configuration (env plus `--pool`); throws one ConfigError naming every problem. */
  loadWorkerConfig,
  /** The loggable view of a configuration, secrets replaced. */
  redactConfig,
  SCOPES,
} from './load-config.js'
export {
  type ClusterTarget,
  /** Seed nodes and credentials of a redis+cluster:// URL, or null. */
  parseClusterUrl,
  /** Sentinels, master name, credentials and db of a redis+sentinel:// URL, or null. */
  parseSentinelUrl,
  type SentinelTarget,
} from './redis-url.js'
export {
  /** Thrown by the loaders; `problems` lists every bad or missing variable. */
  ConfigError,
  type Env,
} from './parse.js'
