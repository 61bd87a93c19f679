import { promisify } from 'node:util'
import { brotliCompress, brotliCompressSync, brotliDecompress, constants } from 'node:zlib'

const compress = promisify(brotliCompress)
const decompress = promisify(brotliDecompress)

/**
 * Up to this size a source is packed in place: about 25 µs for a typical message, where the
 * thread pool's round trip costs several times that in the worker's own time. Larger ones go to
 * the pool, so one big message does not hold the event loop.
 */
const PACK_IN_PLACE_BYTES = 64 * 1024

// The first byte of a stored raw source says how the rest is kept.
const PLAIN = 0
const BROTLI = 1

/**
 * The form a message's raw source is stored in: brotli (quality 3, a 64 KiB window: nearly all
 * of quality 5's saving on mail at a third of its time) when that saves at least a tenth, the
 * bytes as they are otherwise (already compressed attachments).
 */
export async function packRawSource(raw: Buffer): Promise<Buffer> {
  const options = {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 3,
      [constants.BROTLI_PARAM_LGWIN]: 16,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  }
  const packed =
    raw.length <= PACK_IN_PLACE_BYTES
      ? brotliCompressSync(raw, options)
      : await compress(raw, options)
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
