import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import hpack from "hpack.js";
import { type ConnectionRoute, type SniffOptions, sniffConnection } from "./connection-sniffer.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

const SETTINGS = frame(0x4, 0, 0, Buffer.from([0, 4, 0, 0, 0x40, 0]));
const SETTINGS_ACK = frame(0x4, 0x1, 0, Buffer.alloc(0));
const WINDOW_UPDATE = frame(0x8, 0, 0, Buffer.from([0, 0, 0x40, 0]));

function headers(authority: string): Buffer {
  const encoder = hpack.compressor.create({ table: { maxSize: 4096 } });
  encoder.write([
    { name: ":method", value: "POST" },
    { name: ":scheme", value: "http" },
    { name: ":path", value: "/runtime.v1.RuntimeService/Version" },
    { name: ":authority", value: authority },
    { name: "content-type", value: "application/grpc" },
  ]);
  return frame(0x1, 0x4, 1, encoder.read() ?? Buffer.alloc(0));
}

let dir: string;
let server: Server;
let path: string;
const accepted: Array<(socket: Socket) => void> = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-sniffer-"));
  path = join(dir, "s.sock");
  server = createServer((socket) => accepted.shift()?.(socket));
  server.listen(path);
  await once(server, "listening");
});

after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A client connection and the sniffer's route on the server side, with what the server
 * socket's buffer held for the HTTP/2 session and what the client received.
 */
async function sniff(
  send: (client: Socket, serverSent: Promise<Buffer>) => Promise<void>,
  options?: SniffOptions,
): Promise<{ route: ConnectionRoute | Error; held: Buffer; toClient: Buffer; server: Socket }> {
  const serverSide = new Promise<Socket>((resolve) => accepted.push(resolve));
  const client = createConnection(path);
  const received: Buffer[] = [];
  const firstBytes = new Promise<Buffer>((resolve) =>
    client.once("data", (chunk: Buffer) => resolve(chunk)),
  );
  client.on("data", (chunk: Buffer) => received.push(chunk));
  client.on("error", () => {});
  const socket = await serverSide;
  const routed = sniffConnection(socket, options).catch((err: Error) => err);
  await send(client, firstBytes);
  const route = await routed;
  let held = Buffer.alloc(0);
  if (!(route instanceof Error) && route.kind === "native") {
    for (let chunk = socket.read(); chunk; chunk = socket.read()) {
      held = Buffer.concat([held, chunk as Buffer]);
    }
  }
  client.destroy();
  socket.destroy();
  return { route, held, toClient: Buffer.concat(received), server: socket };
}

describe("sniffConnection", () => {
  test("a current client gets the socket itself, with all it sent but the ACK of the sniffer's SETTINGS", async () => {
    const request = headers("localhost");
    const { route, held, toClient } = await sniff(async (client, serverSent) => {
      client.write(Buffer.concat([PREFACE, SETTINGS, WINDOW_UPDATE, request]));
      await serverSent;
      client.write(SETTINGS_ACK);
    });
    assert.ok(!(route instanceof Error) && route.kind === "native");
    assert.deepEqual(held, Buffer.concat([PREFACE, SETTINGS, WINDOW_UPDATE, request]));
    assert.deepEqual(toClient, frame(0x4, 0, 0, Buffer.alloc(0)), "one empty SETTINGS frame");
  });

  test("a client that waits for the server's SETTINGS before its request (grpc-go) is routed too", async () => {
    const request = headers("%2Frun%2Fberth%2Fberth.sock");
    const { route, held } = await sniff(async (client, serverSent) => {
      client.write(Buffer.concat([PREFACE, SETTINGS]));
      await serverSent;
      client.write(Buffer.concat([SETTINGS_ACK, request.subarray(0, 5)]));
      await new Promise((resolve) => setTimeout(resolve, 20));
      client.write(request.subarray(5));
    });
    assert.ok(!(route instanceof Error) && route.kind === "native");
    assert.deepEqual(held, Buffer.concat([PREFACE, SETTINGS, request]));
  });

  test("a socket path as :authority (grpc-go 1.45-1.54) goes through the rewriter", async () => {
    const { route } = await sniff(async (client, serverSent) => {
      client.write(Buffer.concat([PREFACE, SETTINGS]));
      await serverSent;
      client.write(Buffer.concat([SETTINGS_ACK, headers("/run/berth/berth.sock")]));
    });
    assert.ok(!(route instanceof Error) && route.kind === "rewrite");
    const passed = Buffer.concat(route.pieces);
    assert.deepEqual(
      passed.subarray(0, PREFACE.length + SETTINGS.length),
      Buffer.concat([PREFACE, SETTINGS]),
    );
    assert.ok(!passed.includes(SETTINGS_ACK), "the sniffer's ACK is not passed on");
    assert.ok(passed.length > PREFACE.length + SETTINGS.length, "the rewritten request follows");
  });

  test("a client with no request yet is handed over through the rewriter after the wait", async () => {
    const { route } = await sniff(
      async (client, serverSent) => {
        client.write(Buffer.concat([PREFACE, SETTINGS]));
        await serverSent;
        client.write(SETTINGS_ACK);
      },
      { firstRequestWaitMs: 50 },
    );
    assert.ok(!(route instanceof Error) && route.kind === "rewrite");
    assert.deepEqual(Buffer.concat(route.pieces), Buffer.concat([PREFACE, SETTINGS]));
  });

  test("a client that never ACKs is disconnected at the handshake timeout", async () => {
    const { route, server: socket } = await sniff(
      async (client) => {
        client.write(Buffer.concat([PREFACE, SETTINGS, headers("localhost")]));
      },
      { handshakeTimeoutMs: 50 },
    );
    assert.ok(route instanceof Error);
    assert.ok(socket.destroyed);
  });

  test("what is not HTTP/2 is handed over as it is, for the server to refuse", async () => {
    const bytes = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const { route, held } = await sniff(async (client) => {
      client.write(bytes);
    });
    assert.ok(!(route instanceof Error) && route.kind === "native");
    assert.deepEqual(held, bytes);
  });
});
