import { createInflate, type Inflate, constants as zlibConstants } from "node:zlib";
import { SPDY3_DICTIONARY } from "./spdy-dictionary.ts";

/**
 * The SPDY/3 framing that Kubernetes clients (moby/spdystream) speak: frame layout, header
 * blocks and their zlib compression. Pure encoding and decoding; the connection logic lives
 * in spdy-connection.ts.
 */

export const SPDY_VERSION = 3;

export const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Noop: 5,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

export const FLAG_FIN = 0x01;

/** RST_STREAM status codes (SPDY/3 section 2.6.3). */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
} as const;

/** The largest payload a frame's 24-bit length field can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export type Frame =
  | { control: false; streamId: number; flags: number; data: Buffer }
  | { control: true; version: number; type: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {
  override name = "SpdyProtocolError";
}

/**
 * Splits a byte stream into frames. The Go framer writes a frame's fields with separate
 * writes, so frames arrive split and merged arbitrarily; nothing here assumes a frame per
 * chunk. Chunks are kept as a list and joined once a whole frame is present, so a large DATA
 * frame arriving in many pieces costs one copy, not one per piece.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #maxPayload: number;

  /** `maxPayload`: a frame announcing more is a protocol error, before any of it is buffered. */
  constructor(maxPayload = MAX_FRAME_PAYLOAD) {
    this.#maxPayload = maxPayload;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < 8) break;
      const head = this.#peek(8);
      const length = head.readUInt32BE(4) & 0xffffff;
      if (length > this.#maxPayload) {
        throw new SpdyProtocolError(
          `frame of ${length} bytes exceeds the ${this.#maxPayload}-byte limit`,
        );
      }
      if (this.#buffered < 8 + length) break;
      const bytes = this.#take(8 + length);
      const flags = bytes[4] ?? 0;
      const payload = bytes.subarray(8);
      const word = bytes.readUInt32BE(0);
      if (word & 0x80000000) {
        frames.push({
          control: true,
          version: (word >>> 16) & 0x7fff,
          type: word & 0xffff,
          flags,
          payload,
        });
      } else {
        frames.push({ control: false, streamId: word & 0x7fffffff, flags, data: payload });
      }
    }
    return frames;
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.#chunks).subarray(0, n);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length >= n) {
      this.#buffered -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.#chunks);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return all.subarray(0, n);
  }
}

// ---- control frame payloads -----------------------------------------------------------

export interface SynStream {
  streamId: number;
  associatedId: number;
  priority: number;
  /** The still-compressed header block. */
  headerBlock: Buffer;
}

export function decodeSynStream(payload: Buffer): SynStream {
  if (payload.length < 10) throw new SpdyProtocolError("SYN_STREAM shorter than 10 bytes");
  return {
    streamId: payload.readUInt32BE(0) & 0x7fffffff,
    associatedId: payload.readUInt32BE(4) & 0x7fffffff,
    priority: (payload[8] ?? 0) >> 5,
    headerBlock: payload.subarray(10),
  };
}

/** SYN_REPLY and HEADERS: a stream id, then the compressed header block. */
export function decodeStreamHeaders(payload: Buffer): { streamId: number; headerBlock: Buffer } {
  if (payload.length < 4) throw new SpdyProtocolError("header frame shorter than 4 bytes");
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, headerBlock: payload.subarray(4) };
}

export function decodeRstStream(payload: Buffer): { streamId: number; status: number } {
  if (payload.length < 8) throw new SpdyProtocolError("RST_STREAM shorter than 8 bytes");
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
}

export function decodePing(payload: Buffer): number {
  if (payload.length < 4) throw new SpdyProtocolError("PING shorter than 4 bytes");
  return payload.readUInt32BE(0);
}

export function decodeGoAway(payload: Buffer): { lastGoodStreamId: number; status: number } {
  if (payload.length < 4) throw new SpdyProtocolError("GOAWAY shorter than 4 bytes");
  return {
    lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff,
    status: payload.length >= 8 ? payload.readUInt32BE(4) : 0,
  };
}

// ---- encoders ---------------------------------------------------------------------------

export function encodeControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError("control frame too large");
  const frame = Buffer.allocUnsafe(8 + payload.length);
  frame.writeUInt32BE((0x8000 | SPDY_VERSION) * 0x10000 + type, 0);
  frame.writeUInt32BE(flags * 0x1000000 + payload.length, 4);
  payload.copy(frame, 8);
  return frame;
}

/** The 8-byte header of a DATA frame; the payload follows it on the wire. */
export function encodeDataHeader(streamId: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError("data frame too large");
  const header = Buffer.allocUnsafe(8);
  header.writeUInt32BE(streamId & 0x7fffffff, 0);
  header.writeUInt32BE(flags * 0x1000000 + length, 4);
  return header;
}

export function encodeSynReply(streamId: number, flags: number, compressedBlock: Buffer): Buffer {
  const payload = Buffer.allocUnsafe(4 + compressedBlock.length);
  payload.writeUInt32BE(streamId & 0x7fffffff, 0);
  compressedBlock.copy(payload, 4);
  return encodeControlFrame(FrameType.SynReply, flags, payload);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(streamId & 0x7fffffff, 0);
  payload.writeUInt32BE(status, 4);
  return encodeControlFrame(FrameType.RstStream, 0, payload);
}

export function encodePing(id: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(id >>> 0, 0);
  return encodeControlFrame(FrameType.Ping, 0, payload);
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastGoodStreamId & 0x7fffffff, 0);
  payload.writeUInt32BE(status, 4);
  return encodeControlFrame(FrameType.GoAway, 0, payload);
}

// ---- header blocks ------------------------------------------------------------------------

/** Header names (lowercase) to values; SPDY joins several values of one name with NUL. */
export type SpdyHeaders = Map<string, string[]>;

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [u32(headers.size)];
  for (const [name, values] of headers) {
    const nameBytes = Buffer.from(name.toLowerCase(), "utf8");
    const valueBytes = Buffer.from(values.join("\0"), "utf8");
    parts.push(u32(nameBytes.length), nameBytes, u32(valueBytes.length), valueBytes);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = new Map();
  let offset = 0;
  const readU32 = () => {
    if (offset + 4 > block.length) throw new SpdyProtocolError("truncated header block");
    const value = block.readUInt32BE(offset);
    offset += 4;
    return value;
  };
  const readBytes = (n: number) => {
    if (offset + n > block.length) throw new SpdyProtocolError("truncated header block");
    const bytes = block.subarray(offset, offset + n);
    offset += n;
    return bytes;
  };
  const count = readU32();
  for (let i = 0; i < count; i++) {
    // Lowercased here rather than rejected: Go clients always send lowercase names, and a
    // lenient server costs nothing.
    const name = readBytes(readU32()).toString("utf8").toLowerCase();
    const values = readBytes(readU32()).toString("utf8").split("\0");
    headers.set(name, [...(headers.get(name) ?? []), ...values]);
  }
  return headers;
}

/** The first value of a header, or undefined. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}

function u32(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value >>> 0, 0);
  return bytes;
}

// ---- header compression -----------------------------------------------------------------

/**
 * Compresses berth's outgoing header blocks as one zlib stream per connection made of stored
 * (uncompressed) deflate blocks, each block followed by an empty stored block: the sync-flush
 * marker. Go's inflater hands out a block's bytes only when it reaches that marker; without
 * it, it reads on past the frame's end, fails, and the error sticks to every later frame.
 * The zlib header says "no dictionary", so Go's reader simply does not use its own. berth's
 * blocks are tiny (usually the 4-byte empty block): compression would buy nothing, and this
 * way encoding is synchronous, so a SYN_REPLY is on the wire before the stream's first DATA.
 */
export class HeaderCompressor {
  #started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.#started) {
      // CMF 0x78 (deflate, 32 KiB window), FLG 0x01: no dictionary, check bits valid.
      parts.push(Buffer.from([0x78, 0x01]));
      this.#started = true;
    }
    for (let offset = 0; offset < block.length; offset += 0xffff) {
      parts.push(storedBlock(block.subarray(offset, offset + 0xffff)));
    }
    parts.push(storedBlock(Buffer.alloc(0)));
    return Buffer.concat(parts);
  }
}

/** A non-final stored deflate block starting on a byte boundary. */
function storedBlock(data: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = 0x00; // BFINAL 0, BTYPE 00, then padding to the byte boundary
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  return Buffer.concat([head, data]);
}

/**
 * Decompresses a peer's header blocks: one inflate context for the whole connection, primed
 * with the SPDY dictionary, each block ending in a sync flush. Node's zlib is asynchronous;
 * calls are serialised so blocks are decoded in arrival order.
 */
export class HeaderDecompressor {
  readonly #inflate: Inflate;
  #tail: Promise<unknown> = Promise.resolve();
  #output: Buffer[] = [];
  #error: Error | undefined;
  #failPending: ((err: Error) => void) | undefined;
  /** Decoded headers larger than this are refused (a zlib bomb would otherwise be unbounded). */
  static readonly MAX_BLOCK = 1 << 20;

  constructor() {
    this.#inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    this.#inflate.on("data", (chunk: Buffer) => this.#output.push(chunk));
    this.#inflate.on("error", (err) => {
      this.#error = new SpdyProtocolError(`header decompression: ${err.message}`);
      this.#failPending?.(this.#error);
    });
  }

  decompress(compressed: Buffer): Promise<Buffer> {
    const run = this.#tail.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          if (this.#error) {
            reject(this.#error);
            return;
          }
          this.#failPending = reject;
          this.#inflate.write(compressed);
          this.#inflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
            this.#failPending = undefined;
            const out = Buffer.concat(this.#output);
            this.#output = [];
            if (this.#error) reject(this.#error);
            else if (out.length > HeaderDecompressor.MAX_BLOCK) {
              reject(new SpdyProtocolError("header block too large"));
            } else resolve(out);
          });
        }),
    );
    this.#tail = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.#error ??= new SpdyProtocolError("header decompressor closed");
    this.#inflate.destroy();
  }
}
