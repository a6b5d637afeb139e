import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import type { Logger } from "pino";
import {
  decodeGoAway,
  decodeHeaderBlock,
  decodePing,
  decodeRstStream,
  decodeStreamHeaders,
  decodeSynStream,
  encodeDataHeader,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  FLAG_FIN,
  type Frame,
  FrameReader,
  FrameType,
  HeaderCompressor,
  HeaderDecompressor,
  MAX_FRAME_PAYLOAD,
  RstStatus,
  SPDY_VERSION,
  type SpdyHeaders,
  SpdyProtocolError,
} from "./spdy-frames.ts";

/**
 * The server side of a SPDY/3.1 connection as Kubernetes clients use it: they open every
 * stream, berth replies and exchanges DATA. Deliberately not SPDY's flow control: spdystream
 * never sends WINDOW_UPDATE, so a 64 KiB send window would stall; backpressure comes from the
 * transport (`write()` returning false, then `'drain'`) in both directions.
 */
export interface SpdyConnectionOptions {
  log: Logger;
  /** Bytes that arrived with the HTTP upgrade, before any socket data. */
  head?: Buffer | undefined;
  /** Close the connection after this long without a frame in either direction (0 = never). */
  idleTimeoutMs?: number;
}

/**
 * The largest frame berth takes from a client: client-go writes stdin and port-forward data
 * 32 KiB at a time and header blocks are small, so a bigger frame is hostile and ends the
 * connection instead of being buffered (the 24-bit length would allow 16 MiB per connection).
 */
export const MAX_CLIENT_FRAME_PAYLOAD = 1 << 20;

/** Parsed frames waiting their turn; above this many queued bytes the socket is paused. */
const MAX_QUEUED_BYTES = 1 << 20;

export class SpdyConnection extends EventEmitter<{
  stream: [SpdyStream];
  close: [];
  goaway: [];
}> {
  readonly #socket: Duplex;
  readonly #log: Logger;
  readonly #reader = new FrameReader(MAX_CLIENT_FRAME_PAYLOAD);
  readonly #compressor = new HeaderCompressor();
  readonly #decompressor = new HeaderDecompressor();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #queue: Frame[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #lastRemoteStreamId = 0;
  #goneAway = false;
  #closed = false;
  #ending = false;
  readonly #blockedReaders = new Set<SpdyStream>();
  #drainWaiters: Array<(err?: Error) => void> = [];
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, options: SpdyConnectionOptions) {
    super();
    this.#socket = socket;
    this.#log = options.log;
    const idle = options.idleTimeoutMs ?? 0;
    if (idle > 0) {
      this.#idleTimer = setTimeout(() => {
        this.#log.debug("spdy connection idle: closing");
        this.destroy();
      }, idle);
      this.#idleTimer.unref();
    }
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("drain", () => this.#flushDrainWaiters());
    socket.on("end", () => this.destroy());
    socket.on("close", () => this.destroy());
    socket.on("error", (err) => {
      this.#log.debug({ err: err.message }, "spdy transport error");
      this.destroy();
    });
    if (options.head && options.head.length > 0) this.#onData(options.head);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends GOAWAY once every queued frame is out, then ends the transport. */
  async close(): Promise<void> {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (!this.#goneAway) {
      this.#goneAway = true;
      this.#socket.write(encodeGoAway(this.#lastRemoteStreamId, 0));
    }
    this.#socket.end();
    // The peer closes its side when it has read everything; do not wait on it forever.
    const timer = setTimeout(() => this.destroy(), 5_000);
    timer.unref();
    await new Promise<void>((resolve) => {
      if (this.#closed) resolve();
      else this.once("close", () => resolve());
    });
    clearTimeout(timer);
  }

  /** Tears everything down at once: streams are destroyed, nothing more is written. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#decompressor.close();
    this.#flushDrainWaiters(new Error("spdy connection closed"));
    for (const stream of this.#streams.values()) stream.destroy();
    this.#streams.clear();
    this.#socket.destroy();
    this.emit("close");
  }

  // ---- sending ------------------------------------------------------------------------------

  /** @internal for SpdyStream */
  sendReply(streamId: number, fin: boolean): void {
    this.#write(
      encodeSynReply(
        streamId,
        fin ? FLAG_FIN : 0,
        this.#compressor.compress(encodeHeaderBlock(new Map())),
      ),
    );
  }

  /** @internal for SpdyStream: calls back once the transport can take more. */
  sendData(streamId: number, data: Buffer, fin: boolean, callback: (err?: Error) => void): void {
    if (this.#closed) {
      callback(new Error("spdy connection closed"));
      return;
    }
    let ok = true;
    let offset = 0;
    do {
      const piece = data.subarray(offset, offset + MAX_FRAME_PAYLOAD);
      offset += piece.length;
      const last = offset >= data.length;
      ok = this.#write(encodeDataHeader(streamId, fin && last ? FLAG_FIN : 0, piece.length));
      if (piece.length > 0) ok = this.#write(piece);
    } while (offset < data.length);
    if (ok) callback();
    else this.#drainWaiters.push(callback);
  }

  /** @internal for SpdyStream */
  sendReset(streamId: number, status: number): void {
    this.#write(encodeRstStream(streamId, status));
  }

  #write(bytes: Buffer): boolean {
    if (this.#closed) return true;
    this.#idleTimer?.refresh();
    return this.#socket.write(bytes);
  }

  #flushDrainWaiters(err?: Error): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter(err);
  }

  // ---- receiving ----------------------------------------------------------------------------

  /** @internal a stream's reader cannot take more: stop reading the transport. */
  blockReader(stream: SpdyStream): void {
    this.#blockedReaders.add(stream);
    this.#socket.pause();
  }

  /** @internal */
  unblockReader(stream: SpdyStream): void {
    if (!this.#blockedReaders.delete(stream)) return;
    this.#maybeResume();
  }

  /** @internal */
  forget(stream: SpdyStream): void {
    this.#streams.delete(stream.id);
    this.unblockReader(stream);
  }

  #maybeResume(): void {
    if (this.#closed) return;
    if (this.#blockedReaders.size === 0 && this.#queuedBytes < MAX_QUEUED_BYTES) {
      this.#socket.resume();
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#idleTimer?.refresh();
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      this.#log.info({ err: (err as Error).message }, "spdy protocol error: closing");
      this.destroy();
      return;
    }
    for (const frame of frames) {
      this.#queue.push(frame);
      this.#queuedBytes += frameSize(frame);
    }
    if (this.#queuedBytes >= MAX_QUEUED_BYTES) this.#socket.pause();
    void this.#pump();
  }

  /**
   * Frames are handled strictly in order; a frame with a header block waits for the
   * (asynchronous) inflater before anything after it is looked at, so a stream exists before
   * its first DATA is handled.
   */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const frame = this.#queue.shift() as Frame;
        this.#queuedBytes -= frameSize(frame);
        await this.#handle(frame);
      }
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, "spdy protocol error: closing");
      this.destroy();
    } finally {
      this.#pumping = false;
      this.#maybeResume();
    }
  }

  async #handle(frame: Frame): Promise<void> {
    if (!frame.control) {
      this.#handleData(frame.streamId, frame.flags, frame.data);
      return;
    }
    if (frame.version !== SPDY_VERSION) {
      throw new SpdyProtocolError(`unsupported SPDY version ${frame.version}`);
    }
    switch (frame.type) {
      case FrameType.SynStream: {
        const syn = decodeSynStream(frame.payload);
        const headers = decodeHeaderBlock(await this.#decompressor.decompress(syn.headerBlock));
        this.#handleSynStream(syn.streamId, frame.flags, headers);
        return;
      }
      case FrameType.SynReply:
      case FrameType.Headers: {
        // Nothing to act on, but the block must pass through the inflater to keep its
        // state in step with the peer's deflater.
        await this.#decompressor.decompress(decodeStreamHeaders(frame.payload).headerBlock);
        return;
      }
      case FrameType.RstStream: {
        const { streamId } = decodeRstStream(frame.payload);
        this.#streams.get(streamId)?.onRemoteReset();
        return;
      }
      case FrameType.Ping: {
        const id = decodePing(frame.payload);
        // Odd ids are the client's: echo them. Even ones would answer pings berth never sends.
        if (id % 2 === 1) this.#write(encodePing(id));
        return;
      }
      case FrameType.GoAway: {
        decodeGoAway(frame.payload);
        this.#goneAway = true;
        this.emit("goaway");
        return;
      }
      default:
        // SETTINGS, WINDOW_UPDATE, NOOP: nothing berth acts on (see the class comment).
        return;
    }
  }

  #handleSynStream(streamId: number, flags: number, headers: SpdyHeaders): void {
    if (this.#goneAway || this.#ending) {
      this.sendReset(streamId, RstStatus.RefusedStream);
      return;
    }
    if (streamId % 2 === 0 || streamId <= this.#lastRemoteStreamId) {
      this.sendReset(streamId, RstStatus.ProtocolError);
      return;
    }
    this.#lastRemoteStreamId = streamId;
    const stream = new SpdyStream(this, streamId, headers);
    this.#streams.set(streamId, stream);
    if (flags & FLAG_FIN) stream.onRemoteData(Buffer.alloc(0), true);
    this.emit("stream", stream);
  }

  #handleData(streamId: number, flags: number, data: Buffer): void {
    const stream = this.#streams.get(streamId);
    // Data on a stream already closed or reset is dropped, as the peer may well have sent it
    // before learning of the reset.
    if (!stream) return;
    stream.onRemoteData(data, (flags & FLAG_FIN) !== 0);
  }
}

function frameSize(frame: Frame): number {
  return 8 + (frame.control ? frame.payload.length : frame.data.length);
}

/**
 * One SPDY stream as a Node duplex: what the client sends is readable, what berth writes goes
 * out as DATA frames; `end()` sends FIN, `reset()` sends RST_STREAM. The SYN_REPLY goes out
 * with the first write at the latest (a Go client drops DATA on a stream it has no reply for).
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  readonly #conn: SpdyConnection;
  #replied = false;
  #remoteFin = false;
  #localFin = false;
  #reset = false;

  constructor(conn: SpdyConnection, id: number, headers: SpdyHeaders) {
    super({ allowHalfOpen: true });
    this.#conn = conn;
    this.id = id;
    this.headers = headers;
    // Failures surface through 'close' and the session's own checks; an unhandled 'error'
    // event would take the process down.
    this.on("error", () => {});
  }

  /** True once the peer reset the stream or berth did. */
  get wasReset(): boolean {
    return this.#reset;
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  reply(): void {
    if (this.#replied || this.#conn.closed) return;
    this.#replied = true;
    this.#conn.sendReply(this.id, false);
  }

  /** RST_STREAM with CANCEL (or the given status), and the stream is done both ways. */
  reset(status: number = RstStatus.Cancel): void {
    if (this.#reset) return;
    this.#reset = true;
    if (!this.#conn.closed) this.#conn.sendReset(this.id, status);
    this.destroy();
  }

  /** @internal */
  onRemoteData(data: Buffer, fin: boolean): void {
    if (this.#remoteFin || this.#reset) return;
    if (data.length > 0 && !this.push(data)) this.#conn.blockReader(this);
    if (fin) {
      this.#remoteFin = true;
      this.push(null);
    }
  }

  /** @internal */
  onRemoteReset(): void {
    if (this.#reset) return;
    this.#reset = true;
    if (!this.#remoteFin) {
      this.#remoteFin = true;
      this.push(null);
    }
    this.destroy();
  }

  override _read(): void {
    this.#conn.unblockReader(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error) => void) {
    if (this.#reset) {
      callback();
      return;
    }
    this.reply();
    this.#conn.sendData(this.id, chunk, false, callback);
  }

  override _final(callback: (err?: Error) => void): void {
    if (this.#reset || this.#conn.closed) {
      callback();
      return;
    }
    this.reply();
    this.#localFin = true;
    this.#conn.sendData(this.id, Buffer.alloc(0), true, callback);
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    // A stream berth gives up on while the peer may still use it is reset, so the peer does
    // not wait on it; one closed both ways needs nothing more.
    if (!this.#reset && !this.#conn.closed && !(this.#localFin && this.#remoteFin)) {
      this.#reset = true;
      this.#conn.sendReset(this.id, RstStatus.Cancel);
    }
    this.#conn.forget(this);
    callback(err);
  }
}
