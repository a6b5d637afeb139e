import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";
import {
  finishSpdySession,
  openSpdySession,
  type SpdySession,
} from "../support/remote-command-client.ts";
import { SpdyTestClient } from "../support/spdy-client.ts";
import { eventually } from "../support/streaming-pods.ts";

/**
 * Hostile and careless streaming clients against berth's streaming server: URLs that are
 * replayed or left to expire, connections that never speak, more sessions than allowed, and
 * frames too large or malformed. Each ends that client's session and nothing else.
 */
const fx = loadFixtures();
const cniDir = mkdtempSync(join(tmpdir(), "berth-abuse-cni-"));
const URL_TTL_MS = 2_000;
const HANDSHAKE_MS = 1_000;
const MAX_SESSIONS = 4;
let berth: BerthProcess;
let podSandboxId: string;
let containerId: string;

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({
    args: [
      "--cni-conf-dir",
      cniDir,
      "--stream-url-ttl",
      `${URL_TTL_MS}ms`,
      "--stream-handshake-timeout",
      `${HANDSHAKE_MS}ms`,
      "--max-stream-sessions",
      String(MAX_SESSIONS),
    ],
  });
  const config = podConfig("abuse");
  podSandboxId = (await berth.client.runtime.runPodSandbox({ config })).podSandboxId;
  containerId = (
    await berth.client.runtime.createContainer({
      podSandboxId,
      sandboxConfig: config,
      config: {
        metadata: { name: "app", attempt: 0 },
        image: { image: fx.images.busybox },
        command: ["sleep", "3600"],
      },
    })
  ).containerId;
  await berth.client.runtime.startContainer({ containerId });
});
after(async () => {
  await berth.client.runtime.removePodSandbox({ podSandboxId });
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
});

async function catUrl(): Promise<string> {
  const { url } = await berth.client.runtime.exec({
    containerId,
    cmd: ["cat"],
    stdin: true,
    stdout: true,
  });
  return url;
}

/** A session of `cat`: it lasts until its stdin ends, and echoes what it is sent. */
async function openCat(url?: string): Promise<SpdySession> {
  return openSpdySession(url ?? (await catUrl()), { stdin: true, stdout: true });
}

/** Answers whether a `cat` session still echoes, within a few seconds. */
async function echoes(session: SpdySession, text: string): Promise<boolean> {
  await session.stdin?.write(`${text}\n`);
  return eventually(() => session.stdout?.text().includes(text) ?? false, 5_000);
}

async function closeCat(session: SpdySession): Promise<void> {
  await session.stdin?.end();
  const result = await finishSpdySession(session);
  assert.equal(result.exitCode, 0);
}

async function refusal(url: string): Promise<{ status: number; body: string; retry?: string }> {
  try {
    const client = await SpdyTestClient.connect(url, ["v4.channel.k8s.io"]);
    await client.close();
  } catch (err) {
    const { response } = err as {
      response?: { status: number; body: string; headers: Record<string, string[]> };
    };
    if (response) {
      return {
        status: response.status,
        body: response.body,
        retry: response.headers["retry-after"]?.[0],
      };
    }
    throw err;
  }
  throw new Error("the upgrade was accepted");
}

function streamingPort(url: string): number {
  return Number(new URL(url).port);
}

function closedWithin(socket: Socket, ms: number): Promise<number | undefined> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe("streaming URLs", () => {
  test("a URL is good for one connection only", async () => {
    const url = await catUrl();
    await closeCat(await openCat(url));
    const second = await refusal(url);
    assert.equal(second.status, 404);
    assert.match(second.body, /unknown, used or expired token/);
  });

  test("a URL left unused expires after --stream-url-ttl", async () => {
    const url = await catUrl();
    await new Promise((resolve) => setTimeout(resolve, URL_TTL_MS + 500));
    const late = await refusal(url);
    assert.equal(late.status, 404);
    assert.match(late.body, /unknown, used or expired token/);
    // A fresh one, used at once, still works.
    await closeCat(await openCat());
  });
});

describe("connections that never upgrade", () => {
  test("a client that connects and sends nothing is dropped after the handshake timeout", async () => {
    const socket = connect({ host: "127.0.0.1", port: streamingPort(await catUrl()) });
    socket.on("error", () => {});
    const elapsed = await closedWithin(socket, HANDSHAKE_MS + 4_000);
    assert.ok(elapsed !== undefined, "berth kept the silent connection open");
    assert.ok(elapsed >= HANDSHAKE_MS - 100, `dropped after ${elapsed} ms, before the timeout`);
  });

  test("a client that dribbles an unfinished request is dropped too", async () => {
    const url = await catUrl();
    const socket = connect({ host: "127.0.0.1", port: streamingPort(url) });
    socket.on("error", () => {});
    socket.write(`POST ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\n`);
    const dribble = setInterval(() => socket.write("X-Slow: 1\r\n"), 200);
    const elapsed = await closedWithin(socket, HANDSHAKE_MS + 4_000);
    clearInterval(dribble);
    assert.ok(elapsed !== undefined, "berth kept the dribbling connection open");
  });
});

describe("the session limit", () => {
  test("past --max-stream-sessions an upgrade is answered 503 with Retry-After, and the URL stays usable", async () => {
    const sessions = await Promise.all(Array.from({ length: MAX_SESSIONS }, () => openCat()));
    const url = await catUrl();
    const refused = await refusal(url);
    assert.equal(refused.status, 503);
    assert.match(refused.body, /too many streaming sessions \(limit 4, --max-stream-sessions\)/);
    assert.equal(refused.retry, "1");
    for (const [i, session] of sessions.entries()) assert.ok(await echoes(session, `s${i}`));
    await closeCat(sessions.pop() as SpdySession);
    // The refused URL was not spent: once a slot is free it connects.
    let late: SpdySession | undefined;
    assert.ok(
      await eventually(async () => {
        late = await openCat(url).catch(() => undefined);
        return late !== undefined;
      }, 5_000),
    );
    sessions.push(late as SpdySession);
    assert.ok(await echoes(late as SpdySession, "late"));
    await Promise.all(sessions.map(closeCat));
  });
});

describe("hostile frames end their own session only", () => {
  test("an oversized SPDY frame and a malformed one close those connections; another session carries on", async () => {
    const bystander = await openCat();
    assert.ok(await echoes(bystander, "before"));

    const oversized = await SpdyTestClient.connect(await catUrl(), ["v4.channel.k8s.io"]);
    // A DATA frame announcing 16 MiB: berth must not wait to buffer it.
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0);
    header.writeUInt32BE(0xffffff, 4);
    oversized.sendRaw(Buffer.concat([header, Buffer.alloc(1024)]));
    assert.ok(
      await eventually(() => oversized.socket.destroyed || oversized.socket.readableEnded, 5_000),
    );

    const malformed = await SpdyTestClient.connect(await catUrl(), ["v4.channel.k8s.io"]);
    // A control frame of SPDY version 2 (berth speaks 3), then noise.
    malformed.sendRaw(Buffer.from([0x80, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4]));
    malformed.sendRaw(Buffer.alloc(64, 0xab));
    assert.ok(
      await eventually(() => malformed.socket.destroyed || malformed.socket.readableEnded, 5_000),
    );

    assert.ok(await echoes(bystander, "after"), "the other session stopped working");
    await closeCat(bystander);
  });

  test("an oversized and a malformed WebSocket message close those sessions; another carries on", async () => {
    const bystander = await openCat();
    const openWs = async () => {
      const ws = new WebSocket((await catUrl()).replace(/^http/, "ws"), ["v5.channel.k8s.io"]);
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      ws.on("error", () => {});
      return ws;
    };
    const closeCode = (ws: WebSocket) =>
      new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));

    const big = await openWs();
    const bigClosed = closeCode(big);
    big.send(Buffer.concat([Buffer.from([0]), Buffer.alloc(3 << 20, 0x61)]));
    assert.equal(await bigClosed, 1009, "message too big");

    const bad = await openWs();
    const badClosed = closeCode(bad);
    // An unmasked client frame is a protocol violation (RFC 6455 section 5.1).
    (bad as unknown as { _socket: Socket })._socket.write(Buffer.from([0x82, 0x02, 0x00, 0x61]));
    assert.ok([1002, 1006].includes(await badClosed), "the session is ended");

    assert.ok(await echoes(bystander, "still"));
    await closeCat(bystander);
    // berth itself is unharmed.
    await berth.client.runtime.status({});
  });
});
