export {
  /** A TCP port on 127.0.0.1 that was free a moment ago. */
  freePort,
  /** What to tell a user who has neither redis-server nor Docker. */
  HOW_TO_GET_REDIS,
  type LocalRedis,
  type LocalRedisOptions,
  /** A private Redis (redis-server from PATH, else a container); throws HOW_TO_GET_REDIS otherwise. */
  startLocalRedis,
} from './start-local-redis.js'
