import assert from "node:assert/strict";
import { once } from "node:events";
import { duplexPair } from "node:stream";
import { describe, test } from "node:test";
import { pino } from "pino";
import { SpdyTestClient } from "../../test/support/spdy-client.ts";
import { SpdyConnection, type SpdyStream } from "./spdy-connection.ts";
import { encodeControlFrame, FrameType } from "./spdy-frames.ts";

const log = pino({ level: "silent" });

function pair() {
  const [serverSide, clientSide] = duplexPair();
  const conn = new SpdyConnection(serverSide, { log });
  const client = new SpdyTestClient(clientSide, "test");
  const streams: SpdyStream[] = [];
  conn.on("stream", (s) => streams.push(s));
  const nextStream = async () => {
    while (streams.length === 0) await once(conn, "stream");
    const stream = streams.shift() as SpdyStream;
    stream.reply();
    return stream;
  };
  return { conn, client, serverSide, clientSide, nextStream };
}

describe("SpdyConnection", () => {
  test("replies before any DATA, carries data both ways and FINs", async () => {
    const { conn, client, nextStream } = pair();
    conn.on("stream", (s) => {
      s.write("from berth");
      s.on("data", (d: Buffer) => s.end(`echo:${d}`));
    });
    const stream = await client.openStream({ streamtype: "stdout" });
    await stream.write("hi");
    await stream.ended;
    assert.equal(stream.text(), "from berthecho:hi");
    assert.equal(client.dataBeforeReply, false);
    const server = await nextStream();
    assert.equal(server.header("streamtype"), "stdout");
    conn.destroy();
  });

  test("echoes the client's PINGs", async () => {
    const { conn, client } = pair();
    await client.ping();
    await client.ping();
    conn.destroy();
  });

  test("sends far past a 64 KiB window without any WINDOW_UPDATE", async () => {
    const { conn, client } = pair();
    const payload = Buffer.alloc(3 << 20, 7);
    conn.on("stream", (s) => s.end(payload));
    const stream = await client.openStream({ streamtype: "stdout" });
    await stream.ended;
    assert.equal(stream.received, payload.length);
    assert.equal(client.log.filter((f) => f.type === "window_update").length, 0);
    conn.destroy();
  });

  test("a client that stops reading stops berth's writes instead of growing a buffer", async () => {
    const { conn, client, serverSide, clientSide, nextStream } = pair();
    const opened = client.openStream({ streamtype: "stdout" });
    const server = await nextStream();
    await opened;
    clientSide.pause();
    clientSide.removeAllListeners("data");
    let written = 0;
    const chunk = Buffer.alloc(64 << 10);
    // Writes as a producer honouring backpressure would: until write() says stop.
    while (server.write(chunk)) written += chunk.length;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(written < 2 << 20, `wrote ${written} bytes into a stalled client`);
    assert.ok(serverSide.writableLength < 2 << 20, "transport buffer bounded");
    assert.equal(server.writableNeedDrain, true);
    conn.destroy();
  });

  test("ignores SETTINGS, WINDOW_UPDATE and NOOP and keeps going", async () => {
    const { conn, client } = pair();
    client.sendRaw(encodeControlFrame(FrameType.Settings, 0, Buffer.from([0, 0, 0, 0])));
    client.sendRaw(encodeControlFrame(FrameType.WindowUpdate, 0, Buffer.alloc(8)));
    client.sendRaw(encodeControlFrame(FrameType.Noop, 0, Buffer.alloc(0)));
    conn.on("stream", (s) => s.end("still here"));
    const stream = await client.openStream({ streamtype: "x" });
    await stream.ended;
    assert.equal(stream.text(), "still here");
    conn.destroy();
  });

  test("a client reset ends the server's stream and marks it reset", async () => {
    const { conn, client, nextStream } = pair();
    const opened = client.openStream({ streamtype: "data" });
    const server = await nextStream();
    const stream = await opened;
    stream.reset();
    await once(server, "close");
    assert.equal(server.wasReset, true);
    conn.destroy();
  });

  test("delivers the client's data and FIN as the readable side", async () => {
    const { conn, client, nextStream } = pair();
    const opened = client.openStream({ streamtype: "stdin" });
    const server = await nextStream();
    const stream = await opened;
    await stream.write("abc");
    await stream.write("def", true);
    const parts: Buffer[] = [];
    for await (const part of server) parts.push(part as Buffer);
    assert.equal(Buffer.concat(parts).toString(), "abcdef");
    conn.destroy();
  });

  test("close sends what is queued, then GOAWAY last", async () => {
    const { conn, client } = pair();
    conn.on("stream", (s) => s.end("bye"));
    const stream = await client.openStream({ streamtype: "stdout" });
    await stream.ended;
    await conn.close();
    await client.closed;
    const types = client.log.map((f) => f.type);
    assert.equal(types.at(-1), "goaway");
    assert.ok(types.indexOf("data") < types.indexOf("goaway"));
  });

  test("refuses an even (server-side) stream id with a protocol-error reset", async () => {
    const { conn, client } = pair();
    // Client streams are odd; 2 would be a server-initiated id.
    await client.openStreamNoWait({ streamtype: "x" }, 2);
    for (let i = 0; i < 50 && !client.log.some((f) => f.type === "rst"); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const rst = client.log.find((f) => f.type === "rst");
    assert.ok(rst && rst.type === "rst" && rst.streamId === 2 && rst.status === 1);
    conn.destroy();
  });
});
