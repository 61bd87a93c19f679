import { promisify } from 'node:util'
import { brotliCompress, brotliDecompress, constants } from 'node:zlib'

const compress = promisify(brotliCompress)
const decompress = promisify(brotliDecompress)

// The first byte of a stored raw source says how the rest is kept.
const PLAIN = 0
const BROTLI = 1

/**
 * The form a message's raw source is stored in: brotli (quality 5, a few milliseconds for a
 * typical message, off the hand-over's path since it runs while the connection opens) when that
 * saves at least a tenth, the bytes as they are otherwise (already compressed attachments).
 */
export async function packRawSource(raw: Buffer): Promise<Buffer> {
  const packed = await compress(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 5,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  })
  if (packed.length < raw.length * 0.9) return Buffer.concat([Buffer.of(BROTLI), packed])
  return Buffer.concat([Buffer.of(PLAIN), raw])
}

/** The exact bytes a packed raw source holds; throws on a value packRawSource did not write. */
export async function unpackRawSource(stored: Buffer): Promise<Buffer> {
  const body = stored.subarray(1)
  switch (stored[0]) {
    case PLAIN:
      return body
    case BROTLI:
      return await decompress(body)
    case undefined:
    default:
      throw new Error('a stored raw source has an unknown format')
  }
}
