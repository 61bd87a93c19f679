import type { Socket } from 'node:net'
import { AppError } from './errors.js'

type ClientError = Error & { code?: string }

// llhttp's codes for a header it refuses: a control character (NUL, CR, DEL…) in a name or value,
// or a framing header (Content-Length, Transfer-Encoding) it cannot trust.
const HEADER_ERRORS = new Set([
  'HPE_INVALID_HEADER_TOKEN',
  'HPE_LF_EXPECTED',
  'HPE_CR_EXPECTED',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_INVALID_TRANSFER_ENCODING',
])

function clientAppError(err: ClientError): AppError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new AppError(
      'REQUEST_TIMEOUT',
      'the request did not arrive in full within the request timeout',
    )
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new AppError('HEADERS_TOO_LARGE', 'the request headers are larger than 16 KiB')
  }
  if (err.code !== undefined && HEADER_ERRORS.has(err.code)) {
    return new AppError(
      'INVALID_HEADER',
      'a request header has a control character (CR, LF, NUL or another) or is malformed',
    )
  }
  return new AppError('VALIDATION_FAILED', 'the request is not valid HTTP/1.1')
}

/**
 * Fastify's clientErrorHandler: a request Node's HTTP parser refused, or one that timed out, is
 * answered with the contract's error body, and the connection is closed (the parser cannot resume).
 */
export function answerClientError(err: ClientError, socket: Socket): void {
  // A reset or an already closed connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = clientAppError(err).toBody()
  const json = JSON.stringify(body)
  // Closed once the answer is flushed; a peer that never reads meets the connection timeout.
  socket.end(
    `HTTP/1.1 ${body.statusCode} ${body.error}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    () => socket.destroy(),
  )
}
