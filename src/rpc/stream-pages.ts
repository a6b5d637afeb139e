/**
 * The Stream* RPCs send what their List twin answers, in pages, so no message outgrows the
 * message size limit.
 */
export const STREAM_PAGE = 500;

export async function sendInPages<T>(
  items: T[],
  send: (page: T[]) => Promise<void>,
  size = STREAM_PAGE,
): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await send(items.slice(start, start + size));
  }
}
