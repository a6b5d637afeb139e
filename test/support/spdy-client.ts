import { EventEmitter } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { SPDY3_DICTIONARY } from "../../src/streaming/spdy-dictionary.ts";

/**
 * A small SPDY/3.1 client for the streaming tests, written apart from berth's server codec
 * (its own framing, and real zlib compression against the dictionary as Go's client does) so
 * that a misreading of the protocol in one is not silently shared by the other. Its decoder
 * is checked against frames recorded from moby/spdystream's framer (spdy-client.test.ts).
 * The dictionary is shared: it is pinned by the DICTID those recorded frames carry.
 */

export interface UpgradeResult {
  status: number;
  headers: Record<string, string[]>;
  body: string;
}

export type ReceivedFrame =
  | { type: "data"; streamId: number; fin: boolean; data: Buffer }
  | { type: "syn_reply"; streamId: number; fin: boolean; headers: Map<string, string[]> }
  | { type: "rst"; streamId: number; status: number }
  | { type: "ping"; id: number }
  | { type: "goaway"; lastGoodStreamId: number; status: number }
  | { type: "headers"; streamId: number }
  | { type: "settings" }
  | { type: "window_update"; streamId: number; delta: number }
  | { type: "other_control"; frameType: number };

const CONTROL_BIT = 0x80000000;

/** Splits a byte stream into raw frames (independent of berth's FrameReader). */
export class TestFrameSplitter {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ first: number; flags: number; payload: Buffer }> {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Array<{ first: number; flags: number; payload: Buffer }> = [];
    let at = 0;
    while (this.#pending.length - at >= 8) {
      const first = this.#pending.readUInt32BE(at);
      const flags = this.#pending.readUInt8(at + 4);
      const length = this.#pending.readUIntBE(at + 5, 3);
      if (this.#pending.length - at < 8 + length) break;
      out.push({ first, flags, payload: this.#pending.subarray(at + 8, at + 8 + length) });
      at += 8 + length;
    }
    this.#pending = this.#pending.subarray(at);
    return out;
  }
}

/** One zlib context for a direction, as SPDY requires; calls are serialised. */
class ZContext {
  readonly #z: Deflate | Inflate;
  #out: Buffer[] = [];
  #tail: Promise<unknown> = Promise.resolve();

  constructor(kind: "deflate" | "inflate") {
    this.#z =
      kind === "deflate"
        ? createDeflate({ level: 9, dictionary: SPDY3_DICTIONARY })
        : createInflate({ dictionary: SPDY3_DICTIONARY });
    this.#z.on("data", (b: Buffer) => this.#out.push(b));
  }

  run(input: Buffer): Promise<Buffer> {
    const next = this.#tail.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          this.#z.once("error", reject);
          this.#z.write(input);
          this.#z.flush(constants.Z_SYNC_FLUSH, () => {
            this.#z.off("error", reject);
            const out = Buffer.concat(this.#out);
            this.#out = [];
            resolve(out);
          });
        }),
    );
    this.#tail = next.catch(() => undefined);
    return next;
  }

  close() {
    this.#z.destroy();
  }
}

export function buildHeaderBlock(headers: Record<string, string>): Buffer {
  const entries = Object.entries(headers);
  let size = 4;
  for (const [k, v] of entries) size += 8 + Buffer.byteLength(k) + Buffer.byteLength(v);
  const block = Buffer.alloc(size);
  let at = block.writeUInt32BE(entries.length, 0);
  for (const [k, v] of entries) {
    at = block.writeUInt32BE(Buffer.byteLength(k), at);
    at += block.write(k, at);
    at = block.writeUInt32BE(Buffer.byteLength(v), at);
    at += block.write(v, at);
  }
  return block;
}

export function parseHeaderBlock(block: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const count = block.readUInt32BE(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const nameLength = block.readUInt32BE(at);
    const name = block.toString("utf8", at + 4, at + 4 + nameLength);
    at += 4 + nameLength;
    const valueLength = block.readUInt32BE(at);
    const value = block.toString("utf8", at + 4, at + 4 + valueLength);
    at += 4 + valueLength;
    out.set(name, value.split("\0"));
  }
  return out;
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt8(flags, 4);
  head.writeUIntBE(payload.length, 5, 3);
  return Buffer.concat([head, payload]);
}

function dataFrame(streamId: number, fin: boolean, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId, 0);
  head.writeUInt8(fin ? 1 : 0, 4);
  head.writeUIntBE(data.length, 5, 3);
  return Buffer.concat([head, data]);
}

/** Decodes one raw frame; header blocks go through the connection's inflater. */
export async function decodeFrame(
  raw: { first: number; flags: number; payload: Buffer },
  inflate: (block: Buffer) => Promise<Buffer>,
): Promise<ReceivedFrame> {
  const { first, flags, payload } = raw;
  if (!(first & CONTROL_BIT)) {
    return { type: "data", streamId: first & 0x7fffffff, fin: (flags & 1) === 1, data: payload };
  }
  const version = (first >>> 16) & 0x7fff;
  if (version !== 3) throw new Error(`SPDY version ${version}`);
  const type = first & 0xffff;
  switch (type) {
    case 2: {
      const headers = parseHeaderBlock(await inflate(payload.subarray(4)));
      return {
        type: "syn_reply",
        streamId: payload.readUInt32BE(0) & 0x7fffffff,
        fin: (flags & 1) === 1,
        headers,
      };
    }
    case 3:
      return { type: "rst", streamId: payload.readUInt32BE(0), status: payload.readUInt32BE(4) };
    case 4:
      return { type: "settings" };
    case 6:
      return { type: "ping", id: payload.readUInt32BE(0) };
    case 7:
      return {
        type: "goaway",
        lastGoodStreamId: payload.readUInt32BE(0),
        status: payload.readUInt32BE(4),
      };
    case 8:
      await inflate(payload.subarray(4));
      return { type: "headers", streamId: payload.readUInt32BE(0) };
    case 9:
      return {
        type: "window_update",
        streamId: payload.readUInt32BE(0),
        delta: payload.readUInt32BE(4),
      };
    default:
      return { type: "other_control", frameType: type };
  }
}

/** Speaks the HTTP/1.1 upgrade by hand, as Go's client does (POST, Content-Length: 0). */
export async function openUpgrade(
  url: string,
  requestHeaders: Array<[string, string]>,
  method = "POST",
): Promise<{ socket: Socket; response: UpgradeResult; rest: Buffer }> {
  const target = new URL(url);
  const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, "");
  const socket: Socket = await new Promise((resolve, reject) => {
    const s =
      target.protocol === "https:"
        ? tlsConnect({ host, port, rejectUnauthorized: false }, () => resolve(s))
        : netConnect({ host, port }, () => resolve(s));
    s.once("error", reject);
  });
  const lines = [`${method} ${target.pathname} HTTP/1.1`, `Host: ${target.host}`];
  for (const [k, v] of requestHeaders) lines.push(`${k}: ${v}`);
  lines.push("Content-Length: 0");
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...headerLines] = buffered
        .subarray(0, end)
        .toString("latin1")
        .split("\r\n");
      const status = Number(statusLine?.split(" ")[1]);
      const headers: Record<string, string[]> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim().toLowerCase();
        const values = headers[name] ?? [];
        values.push(line.slice(colon + 1).trim());
        headers[name] = values;
      }
      let rest = buffered.subarray(end + 4);
      let body = "";
      if (status !== 101) {
        const length = Number(headers["content-length"]?.[0] ?? rest.length);
        if (rest.length < length) return;
        body = rest.subarray(0, length).toString("utf8");
        rest = Buffer.alloc(0);
      }
      socket.off("data", onData);
      socket.off("error", reject);
      socket.pause();
      resolve({ socket, response: { status, headers, body }, rest });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("end", () => reject(new Error("connection closed during upgrade")));
  });
}

export class TestStream extends EventEmitter<{ data: [Buffer]; end: []; reset: [] }> {
  readonly id: number;
  readonly #client: SpdyTestClient;
  readonly chunks: Buffer[] = [];
  received = 0;
  finished = false;
  wasReset = false;
  keepData = true;
  readonly ended: Promise<void>;
  #resolveEnded!: () => void;

  constructor(client: SpdyTestClient, id: number) {
    super();
    this.#client = client;
    this.id = id;
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  /** @internal */
  deliver(frame: { data: Buffer; fin: boolean }) {
    if (frame.data.length > 0) {
      this.received += frame.data.length;
      if (this.keepData) this.chunks.push(frame.data);
      this.emit("data", frame.data);
    }
    if (frame.fin) {
      this.finished = true;
      this.emit("end");
      this.#resolveEnded();
    }
  }

  /** @internal */
  onReset() {
    this.wasReset = true;
    this.emit("reset");
    this.#resolveEnded();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  /** Writes DATA, waiting for the socket to drain when it is full. */
  write(data: Buffer | string, fin = false): Promise<void> {
    return this.#client.sendData(this.id, Buffer.from(data), fin);
  }

  end(): Promise<void> {
    return this.#client.sendData(this.id, Buffer.alloc(0), true);
  }

  reset(status = 5): void {
    this.#client.sendRaw(controlFrame(3, 0, u32pair(this.id, status)));
  }
}

function u32pair(a: number, b: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(a, 0);
  p.writeUInt32BE(b, 4);
  return p;
}

export class SpdyTestClient {
  /** A TCP/TLS socket after the upgrade, or a websocket tunnel's byte stream. */
  readonly socket: Duplex;
  readonly protocol: string | undefined;
  readonly log: ReceivedFrame[] = [];
  readonly #splitter = new TestFrameSplitter();
  readonly #deflate = new ZContext("deflate");
  readonly #inflate = new ZContext("inflate");
  readonly #streams = new Map<number, TestStream>();
  readonly #replies = new Map<number, () => void>();
  readonly #pings = new Map<number, () => void>();
  #nextStreamId = 1;
  #nextPingId = 1;
  #queue: Promise<void> = Promise.resolve();
  readonly closed: Promise<void>;
  goAwayReceived = false;
  /** Set once a DATA frame arrived for a stream berth had not replied to (a protocol bug). */
  dataBeforeReply = false;

  constructor(socket: Duplex, protocol: string | undefined, rest: Buffer = Buffer.alloc(0)) {
    this.socket = socket;
    this.protocol = protocol;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    // When berth ends the connection, hang up too, as a Go client does on EOF.
    socket.on("end", () => socket.end());
    socket.on("data", (chunk: Buffer) => this.#onBytes(chunk));
    if (rest.length > 0) this.#onBytes(rest);
    socket.resume();
  }

  static async connect(
    url: string,
    protocols: string[],
    extraHeaders: Array<[string, string]> = [],
  ): Promise<SpdyTestClient> {
    const { socket, response, rest } = await openUpgrade(url, [
      ["Connection", "Upgrade"],
      ["Upgrade", "SPDY/3.1"],
      ...protocols.map((p): [string, string] => ["X-Stream-Protocol-Version", p]),
      ...extraHeaders,
    ]);
    if (response.status !== 101) {
      socket.destroy();
      throw Object.assign(new Error(`upgrade refused: ${response.status} ${response.body}`), {
        response,
      });
    }
    return new SpdyTestClient(socket, response.headers["x-stream-protocol-version"]?.[0], rest);
  }

  #onBytes(chunk: Buffer) {
    for (const raw of this.#splitter.push(chunk)) {
      // Decoding is asynchronous (zlib); a queue keeps frames in order.
      this.#queue = this.#queue.then(async () => {
        const frame = await decodeFrame(raw, (b) => this.#inflate.run(b));
        this.#handle(frame);
      });
    }
  }

  #handle(frame: ReceivedFrame) {
    this.log.push(frame.type === "data" ? { ...frame, data: Buffer.alloc(0) } : frame);
    switch (frame.type) {
      case "syn_reply":
        this.#replies.get(frame.streamId)?.();
        this.#replies.delete(frame.streamId);
        if (frame.fin)
          this.#streams.get(frame.streamId)?.deliver({ data: Buffer.alloc(0), fin: true });
        break;
      case "data": {
        if (this.#replies.has(frame.streamId)) this.dataBeforeReply = true;
        this.#streams.get(frame.streamId)?.deliver(frame);
        break;
      }
      case "rst":
        this.#streams.get(frame.streamId)?.onReset();
        break;
      case "ping":
        if (frame.id % 2 === 0) this.sendRaw(pingFrame(frame.id));
        else this.#pings.get(frame.id)?.();
        break;
      case "goaway":
        this.goAwayReceived = true;
        break;
      default:
        break;
    }
  }

  /** Opens a stream and waits for berth's SYN_REPLY, as spdystream's client does. */
  async openStream(
    headers: Record<string, string>,
    options: { fin?: boolean; replyTimeoutMs?: number } = {},
  ): Promise<TestStream> {
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new TestStream(this, id);
    this.#streams.set(id, stream);
    const replied = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no SYN_REPLY for stream ${id}`)),
        options.replyTimeoutMs ?? 10_000,
      );
      this.#replies.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const block = await this.#deflate.run(buildHeaderBlock(headers));
    const payload = Buffer.alloc(10);
    payload.writeUInt32BE(id, 0);
    this.sendRaw(controlFrame(1, options.fin ? 1 : 0, Buffer.concat([payload, block])));
    await replied;
    return stream;
  }

  /** Opens a stream without waiting for the reply; `id` forces a stream id (for tests). */
  async openStreamNoWait(headers: Record<string, string>, id?: number): Promise<TestStream> {
    if (id === undefined) {
      id = this.#nextStreamId;
      this.#nextStreamId += 2;
    }
    const stream = new TestStream(this, id);
    this.#streams.set(id, stream);
    this.#replies.set(id, () => {});
    const block = await this.#deflate.run(buildHeaderBlock(headers));
    const payload = Buffer.alloc(10);
    payload.writeUInt32BE(id, 0);
    this.sendRaw(controlFrame(1, 0, Buffer.concat([payload, block])));
    return stream;
  }

  sendRaw(bytes: Buffer): boolean {
    if (this.socket.destroyed) return true;
    return this.socket.write(bytes);
  }

  sendData(id: number, data: Buffer, fin: boolean): Promise<void> {
    const ok = this.sendRaw(dataFrame(id, fin, data));
    if (ok || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.once("drain", done);
      this.socket.once("close", done);
    });
  }

  /** Pings with an odd id and resolves when berth echoes it. */
  ping(): Promise<void> {
    const id = this.#nextPingId;
    this.#nextPingId += 2;
    const echoed = new Promise<void>((resolve) => this.#pings.set(id, resolve));
    this.sendRaw(pingFrame(id));
    return echoed;
  }

  goAway(): void {
    this.sendRaw(controlFrame(7, 0, u32pair(0, 0)));
  }

  destroy(): void {
    this.socket.destroy();
    this.#deflate.close();
    this.#inflate.close();
  }

  /** Sends GOAWAY and ends the socket, as spdystream's Close does. */
  async close(): Promise<void> {
    this.goAway();
    this.socket.end();
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2000))]);
    this.destroy();
  }
}

function pingFrame(id: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(id, 0);
  return controlFrame(6, 0, p);
}
