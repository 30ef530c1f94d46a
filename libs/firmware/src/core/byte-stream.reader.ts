/**
 * Any async iterable of byte chunks: a Node Readable (without an encoding), a web ReadableStream,
 * an async generator. Strings are refused: a stream with an encoding set would silently corrupt
 * binary firmware.
 */
export type ByteSource = AsyncIterable<Uint8Array> | AsyncIterable<unknown>;

/**
 * Feeds every chunk of `source` to `update`. When `update` throws (an early refusal), the loop
 * exits and `for await` closes the iterator, which destroys a Node Readable: nothing more is read.
 */
export async function feedChunks(source: ByteSource, update: (chunk: Buffer) => void): Promise<void> {
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!ArrayBuffer.isView(chunk)) {
      throw new TypeError('firmware streams carry bytes: do not set an encoding on the stream');
    }
    update(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
}
