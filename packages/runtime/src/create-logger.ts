import { type DestinationStream, pino, type Logger } from 'pino'
import type { LogLevel } from '@outbound/config'

/** Never logged: credentials in requests and configuration (STYLE.md §7). */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.secret',
  '*.secretKey',
  'password',
  'secret',
]

/** The root logger: JSON (to `destination`, stdout by default), or pretty lines on a terminal. */
export function createLogger(
  level: LogLevel,
  name: string,
  pretty: boolean,
  destination?: DestinationStream,
): Logger {
  const options = {
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}
