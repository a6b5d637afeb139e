import { createHash, randomBytes } from "node:crypto";
import { Duplex } from "node:stream";
import { openUpgrade } from "./spdy-client.ts";

/**
 * The client side of crictl's port-forward tunnel: a websocket with the subprotocol
 * `SPDY/3.1+portforward.k8s.io` whose binary messages carry a SPDY byte stream. The `ws`
 * client refuses that subprotocol name (the "/"), so this speaks RFC 6455 framing itself:
 * masked binary frames out, unmasked frames in. The result is a duplex of the carried bytes.
 */
export interface Tunnel {
  stream: Duplex;
  protocol: string | undefined;
  /** Sends a close frame with the code and resolves with the code berth closes with. */
  close(code?: number): Promise<number | undefined>;
  /** The close code berth sent, once it did. */
  closed: Promise<number | undefined>;
}

export async function openTunnel(url: string, protocol: string): Promise<Tunnel> {
  const key = randomBytes(16).toString("base64");
  const { socket, response, rest } = await openUpgrade(
    url.replace(/^ws/, "http"),
    [
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
      ["Sec-WebSocket-Version", "13"],
      ["Sec-WebSocket-Key", key],
      ["Sec-WebSocket-Protocol", protocol],
    ],
    "GET",
  );
  if (response.status !== 101) {
    socket.destroy();
    throw new Error(`websocket upgrade refused: ${response.status} ${response.body}`);
  }
  const accept = createHash("sha1")
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest("base64");
  if (response.headers["sec-websocket-accept"]?.[0] !== accept) {
    socket.destroy();
    throw new Error("bad Sec-WebSocket-Accept");
  }

  let resolveClosed!: (code: number | undefined) => void;
  const closed = new Promise<number | undefined>((resolve) => {
    resolveClosed = resolve;
  });
  let closeSent = false;
  const sendFrame = (opcode: number, payload: Buffer) => {
    const mask = randomBytes(4);
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++)
      masked[i] = (masked[i] as number) ^ (mask[i % 4] as number);
    let head: Buffer;
    if (payload.length < 126) {
      head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
    } else if (payload.length < 65536) {
      head = Buffer.alloc(4);
      head[0] = 0x80 | opcode;
      head[1] = 0x80 | 126;
      head.writeUInt16BE(payload.length, 2);
    } else {
      head = Buffer.alloc(10);
      head[0] = 0x80 | opcode;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    return socket.write(Buffer.concat([head, mask, masked]));
  };
  const sendClose = (code: number) => {
    if (closeSent || socket.destroyed) return;
    closeSent = true;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code, 0);
    sendFrame(0x8, body);
  };

  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, callback) {
      if (socket.destroyed) return callback();
      if (sendFrame(0x2, chunk)) callback();
      else socket.once("drain", () => callback());
    },
    final(callback) {
      sendClose(1000);
      callback();
    },
  });

  let pending = rest;
  const onBytes = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const opcode = (pending[0] as number) & 0x0f;
      let length = (pending[1] as number) & 0x7f;
      let at = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (pending.length < 10) return;
        length = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      if (pending.length < at + length) return;
      const payload = pending.subarray(at, at + length);
      pending = pending.subarray(at + length);
      if (opcode === 0x2 || opcode === 0x0) {
        if (!stream.push(payload)) socket.pause();
      } else if (opcode === 0x1) {
        stream.destroy(new Error("text message on the tunnel"));
      } else if (opcode === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
        sendClose(code ?? 1000);
        stream.push(null);
        socket.end();
        resolveClosed(code);
      } else if (opcode === 0x9) {
        sendFrame(0xa, payload);
      }
    }
  };
  socket.on("data", onBytes);
  socket.on("close", () => {
    resolveClosed(undefined);
    stream.destroy();
  });
  socket.on("error", () => {});
  onBytes(Buffer.alloc(0));
  socket.resume();

  return {
    stream,
    protocol: response.headers["sec-websocket-protocol"]?.[0],
    closed,
    close: async (code = 1000) => {
      sendClose(code);
      const timer = setTimeout(() => socket.destroy(), 3000);
      const result = await closed;
      clearTimeout(timer);
      return result;
    },
  };
}
