import type { SpdyTestClient, TestStream } from "./spdy-client.ts";

export interface ForwardResult {
  /** What came back on the data stream. */
  data: Buffer;
  /** The error stream's text ("" when the connection went fine). */
  error: string;
}

/**
 * One forwarded connection as client-go's port forwarder makes it: an error stream, FINed at
 * once, then a data stream with the same port and request id; the request is written and
 * FINed, the reply read to its end, the data stream reset and the error stream read to EOF.
 */
export async function forwardOnce(
  client: SpdyTestClient,
  port: number,
  requestId: number,
  request: Buffer | string,
  options: { onData?: (chunk: Buffer) => void; keepData?: boolean } = {},
): Promise<ForwardResult> {
  const headers = { port: String(port), requestid: String(requestId) };
  const error = await client.openStream({ streamtype: "error", ...headers });
  await error.end();
  const data = await client.openStream({ streamtype: "data", ...headers });
  if (options.keepData === false) data.keepData = false;
  if (options.onData) data.on("data", options.onData);
  await writeAll(data, Buffer.from(request));
  await data.end();
  await data.ended;
  data.reset();
  await error.ended;
  return { data: Buffer.concat(data.chunks), error: error.text() };
}

export async function writeAll(stream: TestStream, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += 32 << 10) {
    await stream.write(bytes.subarray(offset, offset + (32 << 10)));
  }
}

/** The body of an HTTP/1.x response. */
export function httpBody(response: Buffer): Buffer {
  const end = response.indexOf("\r\n\r\n");
  return end < 0 ? Buffer.alloc(0) : response.subarray(end + 4);
}
