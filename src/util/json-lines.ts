/**
 * Splits a byte stream of newline-delimited JSON (Docker's progress and event streams) into
 * parsed values. Chunk boundaries fall anywhere, so a partial line waits for the rest.
 */
export async function* jsonLines<T>(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let pending = "";
  // One streaming decoder: a multi-byte character may be split across chunks.
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    pending += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== "") yield JSON.parse(line) as T;
      newline = pending.indexOf("\n");
    }
  }
  pending += decoder.decode();
  const rest = pending.trim();
  if (rest !== "") yield JSON.parse(rest) as T;
}
