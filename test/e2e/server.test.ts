import assert from "node:assert/strict";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { startBerth } from "../support/berth-process.ts";
import { expectCode } from "../support/grpc.ts";

describe("CRI server on a unix socket", () => {
  test("creates the socket with mode 0660 and removes it and its lock on SIGTERM", async () => {
    const berth = await startBerth();
    const mode = statSync(berth.socket).mode;
    assert.ok(statSync(berth.socket).isSocket());
    assert.equal(mode & 0o777, 0o660);
    assert.equal(await berth.stop(), 0);
    assert.equal(existsSync(berth.socket), false, "socket left behind");
    assert.equal(existsSync(`${berth.socket}.lock`), false, "lock file left behind");
  });

  test("refuses a second berth on the same socket with a clear message", async () => {
    const first = await startBerth();
    try {
      const second = await startBerth({ socket: first.socket, noWait: true });
      const code = await second.exited;
      assert.equal(code, 1);
      assert.match(second.output(), /already serving on .*berth\.sock/);
      // The first one is untouched and still answers.
      const version = await first.client.runtime.version({});
      assert.equal(version.version, "0.1.0");
    } finally {
      await first.stop();
    }
  });

  test("replaces the stale socket left by a killed berth", async () => {
    const first = await startBerth();
    await first.kill();
    assert.ok(existsSync(first.socket), "SIGKILL leaves the socket file behind");
    const second = await startBerth({ socket: first.socket });
    try {
      assert.equal((await second.client.runtime.version({})).runtimeName, "docker");
    } finally {
      await second.stop();
    }
  });

  test("refuses to replace a path that is not a socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-notsock-"));
    const path = join(dir, "berth.sock");
    writeFileSync(path, "precious");
    const berth = await startBerth({ socket: path, noWait: true });
    assert.equal(await berth.exited, 1);
    assert.match(berth.output(), /exists and is not a socket/);
    assert.ok(existsSync(path));
  });

  test("answers UNIMPLEMENTED naming the RPC it does not serve", async () => {
    const berth = await startBerth();
    try {
      await expectCode(
        berth.client.runtime.checkpointContainer({ containerId: "x" }),
        status.UNIMPLEMENTED,
        /runtime\.v1\.RuntimeService\/CheckpointContainer/,
      );
    } finally {
      await berth.stop();
    }
  });

  test("SIGTERM lets an in-flight call finish before exiting", async () => {
    // A registry that accepts connections and never answers: the pull makes no progress
    // and berth's 1.5 s progress deadline ends it while berth is already draining.
    const sockets: Socket[] = [];
    const stalled: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const port = (stalled.address() as { port: number }).port;
    const berth = await startBerth({ args: ["--image-pull-progress-deadline", "1500ms"] });
    try {
      const pull = berth.client.image
        .pullImage({ image: { image: `127.0.0.1:${port}/stalled/image:1` } })
        .then(
          () => "ok",
          (err: { code: number }) => err.code,
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
      berth.child.kill("SIGTERM");
      assert.equal(await pull, status.DEADLINE_EXCEEDED, "the in-flight pull got its own answer");
      assert.equal(await berth.exited, 0);
    } finally {
      await berth.stop();
      for (const socket of sockets) socket.destroy();
      stalled.close();
    }
  });
});
