import { describe, expect, it } from 'vitest'
import { createLogger } from './create-logger.js'

describe('createLogger', () => {
  it('redacts credentials in requests, configuration and nested objects', () => {
    const lines: string[] = []
    const log = createLogger('info', 'test', false, { write: (line: string) => lines.push(line) })
    log.info(
      {
        req: { headers: { authorization: 'Bearer sk-live-123', cookie: 'session=abc' } },
        server: { password: 'smtp-pass', host: 'smtp.example' },
        key: { secret: 'key-secret', name: 'app' },
        password: 'top-level',
      },
      'a request',
    )
    const output = lines.join('')
    for (const secret of ['sk-live-123', 'session=abc', 'smtp-pass', 'key-secret', 'top-level']) {
      expect(output).not.toContain(secret)
    }
    expect(output).toContain('smtp.example')
    expect(output).toContain('[redacted]')
  })
})
