import { Duplex } from "node:stream";
import hpack, { type Compressor, type Decompressor, type HpackHeader } from "hpack.js";

/**
 * The CRI clients of kubelets 1.24 to 1.28 (grpc-go 1.45 to 1.54, crictl 1.26 too) send the
 * unix socket's path as the HTTP/2 `:authority` ("/run/berth/berth.sock"). Node's HTTP/2
 * server (nghttp2's header validation, which no option of Node or grpc-js turns off for this
 * one header) answers every such request with RST_STREAM PROTOCOL_ERROR. This rewrites the
 * client's header blocks on the way in, percent-encoding what an authority cannot hold, as
 * grpc-go 1.55 and later do themselves ("%2Frun%2Fberth%2Fberth.sock"). Everything else in
 * the headers still meets nghttp2's checks.
 *
 * A connection is decided at its first header block: when its `:authority` is valid, the
 * bytes so far were passed on untouched and the rest of the connection is too (current
 * clients cost nothing after that block). Otherwise every header block of the connection is
 * decoded and encoded again, without indexing, so the server's HPACK table stays empty
 * whatever the client's holds.
 */

/** The client connection preface, and the size of every frame's header (RFC 9113). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const FRAME_HEADER_BYTES = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value: the server may not have allowed more. */
const MAX_FRAME_PAYLOAD = 16_384;
/** SETTINGS_HEADER_TABLE_SIZE's initial value, which Node's server keeps. */
const HPACK_TABLE_BYTES = 4096;
/** A header block larger than this is not a CRI client's: the connection is closed. */
const MAX_HEADER_BLOCK_BYTES = 1024 * 1024;

/** RFC 3986 authority characters, as nghttp2 accepts them (reg-name, port, IP literal). */
const AUTHORITY_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]$/;

export function isValidAuthority(value: string): boolean {
  for (const char of value) if (!AUTHORITY_CHAR.test(char)) return false;
  return true;
}

/** Percent-encodes every octet an authority cannot hold (the value's octets are latin1). */
export function encodeAuthority(value: string): string {
  let out = "";
  for (const char of value) {
    out += AUTHORITY_CHAR.test(char)
      ? char
      : `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export class HeaderRewriteError extends Error {}

type Mode = "undecided" | "rewrite" | "passthrough";

interface PendingBlock {
  streamId: number;
  /** The original frames, passed on as they are when nothing needs rewriting. */
  frames: Buffer[];
  fragments: Buffer[];
  bytes: number;
  endStream: boolean;
  /** Stream dependency and weight (5 octets) when the HEADERS frame carried them. */
  priority: Buffer | undefined;
}

/**
 * The client-to-server byte stream of one connection: feed it what the client sent, forward
 * what it answers. Throws HeaderRewriteError on input no HTTP/2 client sends (the caller
 * closes the connection; nghttp2 would have too).
 */
export class AuthorityRewriter {
  #mode: Mode = "undecided";
  #buffered: Buffer = Buffer.alloc(0);
  #prefaceSeen = false;
  #pending: PendingBlock | undefined;
  readonly #decoder: Decompressor = hpack.decompressor.create({
    table: { maxSize: HPACK_TABLE_BYTES },
  });
  readonly #encoder: Compressor = hpack.compressor.create({
    table: { maxSize: HPACK_TABLE_BYTES },
  });

  get mode(): Mode {
    return this.#mode;
  }

  /** A method, not a field read: the mode changes inside #frame(), which narrowing misses. */
  #passingThrough(): boolean {
    return this.#mode === "passthrough";
  }

  push(chunk: Buffer): Buffer[] {
    if (this.#passingThrough()) return [chunk];
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const out: Buffer[] = [];
    if (!this.#prefaceSeen) {
      if (this.#buffered.length < PREFACE.length) return out;
      out.push(this.#buffered.subarray(0, PREFACE.length));
      this.#buffered = this.#buffered.subarray(PREFACE.length);
      this.#prefaceSeen = true;
    }
    while (!this.#passingThrough() && this.#buffered.length >= FRAME_HEADER_BYTES) {
      const length = this.#buffered.readUIntBE(0, 3);
      const total = FRAME_HEADER_BYTES + length;
      if (this.#buffered.length < total) break;
      const frame = this.#buffered.subarray(0, total);
      this.#buffered = this.#buffered.subarray(total);
      out.push(...this.#frame(frame));
    }
    if (this.#passingThrough() && this.#buffered.length > 0) {
      out.push(this.#buffered);
      this.#buffered = Buffer.alloc(0);
    }
    return out;
  }

  #frame(frame: Buffer): Buffer[] {
    const type = frame[3] ?? 0;
    const flags = frame[4] ?? 0;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (type === TYPE_HEADERS) {
      if (this.#pending) throw new HeaderRewriteError("HEADERS inside an unfinished header block");
      let start = 0;
      let end = payload.length;
      if (flags & FLAG_PADDED) {
        end -= payload[0] ?? 0;
        start = 1;
      }
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        priority = payload.subarray(start, start + 5);
        start += 5;
      }
      if (end < start) throw new HeaderRewriteError("HEADERS padding exceeds the frame");
      this.#pending = {
        streamId,
        frames: [frame],
        fragments: [payload.subarray(start, end)],
        bytes: end - start,
        endStream: (flags & FLAG_END_STREAM) !== 0,
        priority,
      };
    } else if (type === TYPE_CONTINUATION && this.#pending?.streamId === streamId) {
      this.#pending.frames.push(frame);
      this.#pending.fragments.push(payload);
      this.#pending.bytes += payload.length;
    } else {
      // Anything else is not ours to judge (a stray CONTINUATION included): nghttp2 does.
      return [frame];
    }
    if (this.#pending.bytes > MAX_HEADER_BLOCK_BYTES) {
      throw new HeaderRewriteError(`header block over ${MAX_HEADER_BLOCK_BYTES} bytes`);
    }
    if ((flags & FLAG_END_HEADERS) === 0) return [];
    const block = this.#pending;
    this.#pending = undefined;
    return this.#block(block);
  }

  #block(block: PendingBlock): Buffer[] {
    const headers = this.#decode(Buffer.concat(block.fragments));
    const authority = headers.find((header) => header.name === ":authority");
    if (this.#mode === "undecided") {
      if (authority === undefined || isValidAuthority(authority.value)) {
        this.#mode = "passthrough";
        return block.frames;
      }
      this.#mode = "rewrite";
    }
    for (const header of headers) {
      if (header.name === ":authority") header.value = encodeAuthority(header.value);
    }
    return this.#encode(block, headers);
  }

  #decode(block: Buffer): HpackHeader[] {
    let failure: Error | undefined;
    const onError = (err: Error) => {
      failure = err;
    };
    this.#decoder.on("error", onError);
    this.#decoder.write(block);
    this.#decoder.execute();
    const headers: HpackHeader[] = [];
    for (let header = this.#decoder.read(); header; header = this.#decoder.read()) {
      headers.push(header);
    }
    if (failure) throw new HeaderRewriteError(`malformed header block: ${failure.message}`);
    return headers;
  }

  #encode(block: PendingBlock, headers: HpackHeader[]): Buffer[] {
    this.#encoder.write(
      headers.map(({ name, value, neverIndex }) => ({
        name,
        value,
        neverIndex: neverIndex === true,
        incremental: false,
      })),
    );
    const encoded = Buffer.concat([
      block.priority ?? Buffer.alloc(0),
      this.#encoder.read() ?? Buffer.alloc(0),
    ]);
    const frames: Buffer[] = [];
    let offset = 0;
    do {
      const piece = encoded.subarray(offset, offset + MAX_FRAME_PAYLOAD);
      offset += piece.length;
      const first = frames.length === 0;
      let flags = offset >= encoded.length ? FLAG_END_HEADERS : 0;
      if (first && block.endStream) flags |= FLAG_END_STREAM;
      if (first && block.priority) flags |= FLAG_PRIORITY;
      frames.push(frameOf(first ? TYPE_HEADERS : TYPE_CONTINUATION, flags, block.streamId, piece));
    } while (offset < encoded.length);
    return frames;
  }
}

function frameOf(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/**
 * The connection as the HTTP/2 server should see it: what the client sends passes through
 * an AuthorityRewriter, what the server sends goes to the client unchanged.
 */
export function withAuthorityRewrite(
  socket: Duplex,
  start: { rewriter: AuthorityRewriter; pieces: Buffer[] } = {
    rewriter: new AuthorityRewriter(),
    pieces: [],
  },
): Duplex {
  const { rewriter } = start;
  const connection = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  // What a sniffer already read and passed through the rewriter.
  for (const piece of start.pieces) connection.push(piece);
  socket.on("data", (chunk: Buffer) => {
    let forward: Buffer[];
    try {
      forward = rewriter.push(chunk);
    } catch (err) {
      connection.destroy(err as Error);
      return;
    }
    for (const piece of forward) if (!connection.push(piece)) socket.pause();
  });
  socket.on("end", () => connection.push(null));
  socket.on("error", (err) => connection.destroy(err));
  socket.on("close", () => {
    if (!connection.destroyed) connection.destroy();
  });
  return connection;
}
