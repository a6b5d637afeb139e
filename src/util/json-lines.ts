/**
 * Splits a byte stream of newline-delimited JSON (Docker's progress and event streams) into
 * parsed values. Chunk boundaries fall anywhere, so a partial line waits for the rest.
 */
export async function* jsonLines<T>(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let pending = "";
  for await (const chunk of chunks) {
    pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== "") yield JSON.parse(line) as T;
      newline = pending.indexOf("\n");
    }
  }
  const rest = pending.trim();
  if (rest !== "") yield JSON.parse(rest) as T;
}
