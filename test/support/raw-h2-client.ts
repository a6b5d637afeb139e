import { connect, type Socket } from "node:net";
import hpack from "hpack.js";

/**
 * A gRPC client written frame by frame, for what node:http2's client refuses to send: the
 * socket path as `:authority`, as grpc-go 1.45 to 1.54 (kubelets 1.24 to 1.28, crictl 1.26)
 * send it. Headers are HPACK-encoded as grpc-go's encoder does: literal with incremental
 * indexing (the static table's name when it has one), the value Huffman-coded when that is
 * shorter, so a second call on the connection refers to the first's entries.
 */

export interface RawCallResult {
  /** Response headers and trailers, in order. */
  headers: Array<{ name: string; value: string }>;
  /** The gRPC messages' bytes (length prefixes removed). */
  messages: Buffer[];
  /** The RST_STREAM error code, when the server reset the stream. */
  resetCode: number | undefined;
  /** The GOAWAY error code, when the server closed the connection. */
  goAwayCode: number | undefined;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const HEADERS = 0x1;
const DATA = 0x0;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const CONTINUATION = 0x9;

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function huffmanShorter(value: string): boolean {
  let bits = 0;
  for (const char of value) bits += hpack.huffman.encode[char.charCodeAt(0)]?.[0] ?? 8;
  return Math.ceil(bits / 8) < value.length;
}

export class RawGrpcConnection {
  readonly #socket: Socket;
  readonly #encoder = hpack.compressor.create({ table: { maxSize: 4096 } });
  readonly #decoder = hpack.decompressor.create({ table: { maxSize: 4096 } });
  #buffered = Buffer.alloc(0);
  #nextStream = 1;
  #goAwayCode: number | undefined;
  readonly #calls = new Map<number, { result: RawCallResult; done: () => void }>();
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => {
      this.#closed = true;
      for (const call of this.#calls.values()) call.done();
    });
    socket.on("error", () => {});
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0))]));
  }

  static open(socketPath: string): Promise<RawGrpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once("connect", () => resolve(new RawGrpcConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** One unary call; resolves when the stream ends, is reset, or the connection closes. */
  call(
    authority: string,
    path: string,
    message: Uint8Array,
    extraHeaders: Array<[string, string]> = [],
  ): Promise<RawCallResult> {
    const streamId = this.#nextStream;
    this.#nextStream += 2;
    const result: RawCallResult = {
      headers: [],
      messages: [],
      resetCode: undefined,
      goAwayCode: undefined,
    };
    const fields: Array<[string, string]> = [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", authority],
      ["content-type", "application/grpc"],
      ["user-agent", "grpc-go/1.49.0"],
      ["te", "trailers"],
      ["grpc-timeout", "9999m"],
      ...extraHeaders,
    ];
    this.#encoder.write(
      fields.map(([name, value]) => ({ name, value, huffman: huffmanShorter(value) })),
    );
    const block = this.#encoder.read() ?? Buffer.alloc(0);
    const body = Buffer.alloc(5 + message.length);
    body.writeUInt32BE(message.length, 1);
    body.set(message, 5);
    return new Promise((resolve) => {
      this.#calls.set(streamId, {
        result,
        done: () => {
          this.#calls.delete(streamId);
          result.goAwayCode = this.#goAwayCode;
          resolve(result);
        },
      });
      if (this.#closed) return this.#calls.get(streamId)?.done();
      this.#socket.write(
        Buffer.concat([frame(HEADERS, 0x4, streamId, block), frame(DATA, 0x1, streamId, body)]),
      );
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 9) {
      const length = this.#buffered.readUIntBE(0, 3);
      if (this.#buffered.length < 9 + length) return;
      const type = this.#buffered[3];
      const flags = this.#buffered[4] ?? 0;
      const streamId = this.#buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = this.#buffered.subarray(9, 9 + length);
      this.#buffered = this.#buffered.subarray(9 + length);
      const call = this.#calls.get(streamId);
      if (type === SETTINGS && (flags & 0x1) === 0) {
        this.#socket.write(frame(SETTINGS, 0x1, 0, Buffer.alloc(0)));
      } else if (type === PING && (flags & 0x1) === 0) {
        this.#socket.write(frame(PING, 0x1, 0, payload));
      } else if (type === GOAWAY) {
        this.#goAwayCode = payload.readUInt32BE(4);
      } else if (type === HEADERS || type === CONTINUATION) {
        // Node's server sends small blocks: no padding, priority or CONTINUATION to join.
        this.#decoder.write(payload);
        this.#decoder.execute();
        for (let header = this.#decoder.read(); header; header = this.#decoder.read()) {
          call?.result.headers.push({ name: header.name, value: header.value });
        }
        if (flags & 0x1) call?.done();
      } else if (type === DATA && call) {
        if (payload.length >= 5) call.result.messages.push(payload.subarray(5));
        if (flags & 0x1) call.done();
      } else if (type === RST_STREAM && call) {
        call.result.resetCode = payload.readUInt32BE(0);
        call.done();
      }
    }
  }
}
