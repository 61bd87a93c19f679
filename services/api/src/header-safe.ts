import { AppError, type ErrorCode } from './errors.js'

// C0 and C1 controls (CR and LF among them) could start a new header line; the bidirectional marks,
// embeddings, overrides and isolates (Unicode TR9) make a mail client show a name other than the
// one written. A configuration name can reach a header (a company's name is the Reply-To display
// name), so these are refused outright rather than cleaned up.
const UNSAFE_CHARACTERS =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

/** Throws `code` naming `field` when `value` holds a control or bidirectional-control character. */
export function refuseUnsafeCharacters(
  value: string,
  field: string,
  code: ErrorCode = 'VALIDATION_FAILED',
): void {
  const found = UNSAFE_CHARACTERS.exec(value)
  if (found === null) return
  const codePoint = found[0].codePointAt(0) ?? 0
  throw new AppError(
    code,
    `${field} must not contain control or bidirectional-control characters (found U+${codePoint.toString(16).toUpperCase().padStart(4, '0')})`,
    { field },
  )
}
