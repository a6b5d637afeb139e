import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { isErrorKind } from "../../src/errors.ts";
import { ExecRequestSchema, ExecSyncRequestSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { exec } from "../../src/rpc/runtime/exec.ts";
import { execSync } from "../../src/rpc/runtime/exec-sync.ts";
import {
  CLIENT_GO_PROTOCOLS,
  execOverSpdy,
  finishSpdySession,
  openSpdySession,
} from "../support/remote-command-client.ts";
import { openUpgrade, SpdyTestClient } from "../support/spdy-client.ts";
import {
  callContext,
  eventually,
  hostProcesses,
  runContainer,
  runSandbox,
  type StreamingFixture,
  startStreaming,
} from "../support/streaming-pods.ts";

let fx: StreamingFixture;
let sandbox: string;

before(async () => {
  fx = await startStreaming();
  sandbox = await runSandbox(fx.docker);
});
after(async () => {
  await fx.stop();
});

interface ExecInit {
  containerId?: string;
  cmd?: string[];
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

async function execUrl(init: ExecInit): Promise<string> {
  const request = create(ExecRequestSchema, { containerId: sandbox, stdout: true, ...init });
  return (await exec(fx.deps)(request, callContext())).url ?? "";
}

describe("Exec RPC", () => {
  test("answers an absolute http URL with a token on the streaming server", async () => {
    const url = await execUrl({ cmd: ["true"] });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{8}$/);
    assert.ok(url.startsWith(fx.server.baseUrl));
  });

  test("refuses bad requests, unknown and stopped containers", async () => {
    const rpc = exec(fx.deps);
    const call = (init: ExecInit) =>
      rpc(
        create(ExecRequestSchema, { containerId: sandbox, cmd: ["true"], ...init }),
        callContext(),
      );
    await assert.rejects(call({ tty: true, stderr: true }), (e) =>
      isErrorKind(e, "InvalidArgument"),
    );
    await assert.rejects(call({}), (e) => isErrorKind(e, "InvalidArgument"), "no streams");
    await assert.rejects(call({ containerId: "", stdout: true }), (e) =>
      isErrorKind(e, "InvalidArgument"),
    );
    await assert.rejects(call({ containerId: "f".repeat(64), stdout: true }), (e) =>
      isErrorKind(e, "NotFound"),
    );
    const stopped = await runContainer(fx.docker, { Cmd: ["true"] });
    await eventually(async () => !(await fx.lookup.container(stopped))?.running);
    await assert.rejects(call({ containerId: stopped, stdout: true }), (e) =>
      isErrorKind(e, "FailedPrecondition"),
    );
  });
});

describe("exec over SPDY", () => {
  test("without a tty: stdout and stderr apart, exit code 0", async () => {
    const url = await execUrl({ cmd: ["sh", "-c", "echo hello; echo oops >&2"], stderr: true });
    const result = await execOverSpdy(url, { stdout: true, stderr: true });
    assert.equal(result.stdout, "hello\n");
    assert.equal(result.stderr, "oops\n");
    assert.equal(result.status, '{"metadata":{},"status":"Success"}');
    assert.equal(result.exitCode, 0);
  });

  for (const [script, code] of [
    ["exit 1", 1],
    ["kill -9 $$", 137],
  ] as const) {
    test(`reports exit code ${code} in the v4 status`, async () => {
      const url = await execUrl({ cmd: ["sh", "-c", script], stderr: true });
      const result = await execOverSpdy(url, { stdout: true, stderr: true });
      assert.equal(result.exitCode, code, result.status);
    });
  }

  test("negotiates v4 when client-go offers v5 first (v5 over SPDY is v4)", async () => {
    const session = await openSpdySession(await execUrl({ cmd: ["true"] }), { stdout: true });
    assert.equal(session.protocol, "v4.channel.k8s.io");
    await finishSpdySession(session);
  });

  test("v2 and v3 report a failure as text on the error stream", async () => {
    for (const protocol of ["v3.channel.k8s.io", "v2.channel.k8s.io"]) {
      const url = await execUrl({ cmd: ["sh", "-c", "exit 4"] });
      const session = await openSpdySession(url, { stdout: true }, [protocol]);
      assert.equal(session.protocol, protocol);
      const result = await finishSpdySession(session);
      assert.match(result.status, /non-zero exit code.*4/);
    }
  });

  test("with a tty: output through the terminal, resize visible to stty size", async () => {
    const url = await execUrl({
      cmd: [
        "sh",
        "-c",
        'until [ "$(stty size 2>/dev/null)" = "45 123" ]; do sleep 0.05; done; echo ready',
      ],
      tty: true,
      stdin: true,
    });
    const session = await openSpdySession(url, { stdin: true, stdout: true, tty: true });
    assert.ok(session.resize, "a resize stream");
    await session.resize.write('{"Width":123,"Height":45}\n');
    const result = await finishSpdySession(session);
    assert.equal(result.stdout, "ready\r\n", "a tty turns \\n into \\r\\n");
    assert.equal(result.exitCode, 0);
  });

  test("a tty session lasts as long as the process, not its stdin", async () => {
    const url = await execUrl({ cmd: ["sh", "-c", "sleep 1; echo late"], tty: true, stdin: true });
    const session = await openSpdySession(url, { stdin: true, stdout: true, tty: true });
    await session.stdin?.end();
    const result = await finishSpdySession(session);
    assert.equal(result.stdout, "late\r\n");
  });

  test("stdin EOF reaches the process", async () => {
    const url = await execUrl({ cmd: ["sh", "-c", "wc -c"], stdin: true });
    const result = await execOverSpdy(url, { stdin: "12345", stdout: true });
    assert.equal(result.stdout.trim(), "5");
  });

  test("moves several MiB each way at once (no 64 KiB window stall)", async () => {
    const size = 8 << 20;
    const input = randomBytes(size);
    const url = await execUrl({ cmd: ["cat"], stdin: true, stderr: true });
    const session = await openSpdySession(url, { stdin: true, stdout: true, stderr: true });
    const started = process.hrtime.bigint();
    const stdin = session.stdin as NonNullable<typeof session.stdin>;
    for (let offset = 0; offset < size; offset += 32 << 10) {
      await stdin.write(input.subarray(offset, offset + (32 << 10)));
    }
    await stdin.end();
    const result = await finishSpdySession(session);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const stdout = Buffer.concat(session.stdout?.chunks ?? []);
    assert.equal(stdout.length, size);
    assert.ok(stdout.equals(input), "cat gave back what it was sent");
    assert.equal(result.exitCode, 0);
    // Up and down together, through Docker: reported for the record, not asserted.
    console.log(`# exec cat: ${((2 * size) / (1 << 20) / seconds).toFixed(1)} MiB/s both ways`);
  });

  test("moves a large download intact", async () => {
    const size = 16 << 20;
    const url = await execUrl({
      cmd: ["sh", "-c", `head -c ${size} /dev/urandom | tee /tmp/x; sha256sum /tmp/x >&2`],
      stderr: true,
    });
    const session = await openSpdySession(url, { stdout: true, stderr: true });
    const hash = createHash("sha256");
    (session.stdout as NonNullable<typeof session.stdout>).keepData = false;
    session.stdout?.on("data", (d: Buffer) => hash.update(d));
    const result = await finishSpdySession(session);
    assert.equal(session.stdout?.received, size);
    assert.equal(result.stderr.split(" ")[0], hash.digest("hex"));
  });

  test("runs concurrent sessions independently", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const url = await execUrl({
          cmd: ["sh", "-c", `sleep 0.$((${i} % 3)); echo ${i}; exit ${i}`],
        });
        return execOverSpdy(url, { stdout: true });
      }),
    );
    results.forEach((r, i) => {
      assert.equal(r.stdout, `${i}\n`);
      assert.equal(r.exitCode, i);
    });
  });

  test("a slow client holds the process back instead of berth buffering its output", async () => {
    const url = await execUrl({
      cmd: [
        "sh",
        "-c",
        "i=0; while true; do head -c 65536 /dev/zero; i=$((i+1)); echo $i > /tmp/blocks; done",
      ],
    });
    const session = await openSpdySession(url, { stdout: true });
    session.client.socket.pause(); // stop reading, as a stuck client would
    await new Promise((r) => setTimeout(r, 2000));
    const count = await execSync({ docker: fx.docker, lookup: fx.lookup })(
      create(ExecSyncRequestSchema, { containerId: sandbox, cmd: ["cat", "/tmp/blocks"] }),
      callContext(),
    );
    const produced = Number(Buffer.from(count.stdout ?? []).toString()) * 65536;
    // Socket buffers on the way (engine, kernel, berth's one chunk per stream) hold a few
    // MiB at most; unbounded buffering would have let it write gigabytes by now.
    assert.ok(produced < 64 << 20, `the process wrote ${produced} bytes into a stalled client`);
    console.log(
      `# stalled client: the process got ${(produced / (1 << 20)).toFixed(1)} MiB out in 2 s`,
    );
    session.client.destroy();
    assert.ok(await eventually(() => fx.server.activeSessions === 0), "session freed");
  });
});

describe("leaks and tokens", () => {
  test("a client that disappears mid-stream ends the exec'd process and the session", async () => {
    const marker = ["sleep", "1001"];
    const url = await execUrl({ cmd: ["sh", "-c", `echo started; exec ${marker.join(" ")}`] });
    const session = await openSpdySession(url, { stdout: true });
    await new Promise<void>((resolve) => session.stdout?.once("data", () => resolve()));
    assert.ok(await eventually(() => hostProcesses(marker).length === 1), "process running");
    session.client.destroy(); // killed: no FIN, no GOAWAY
    assert.ok(await eventually(() => hostProcesses(marker).length === 0), "process killed");
    assert.ok(await eventually(() => fx.server.activeSessions === 0), "session freed");
  });

  test("the whole process tree goes, not only the exec'd shell", async () => {
    const marker = ["sleep", "1002"];
    const url = await execUrl({ cmd: ["sh", "-c", `${marker.join(" ")} & echo started; wait`] });
    const session = await openSpdySession(url, { stdout: true });
    await new Promise<void>((resolve) => session.stdout?.once("data", () => resolve()));
    session.client.destroy();
    assert.ok(await eventually(() => hostProcesses(marker).length === 0), "child killed");
  });

  test("a token works once: the second use, and any unknown token, is 404", async () => {
    const url = await execUrl({ cmd: ["true"] });
    const first = await execOverSpdy(url, { stdout: true });
    assert.equal(first.exitCode, 0);
    await assert.rejects(
      SpdyTestClient.connect(url, CLIENT_GO_PROTOCOLS),
      (err: Error & { response?: { status: number } }) => {
        return err.response?.status === 404;
      },
    );
    const unknown = url.replace(/[^/]+$/, "AAAAAAAA");
    await assert.rejects(SpdyTestClient.connect(unknown, CLIENT_GO_PROTOCOLS), /404/);
  });

  test("a token used on the wrong endpoint is 404 (and spent)", async () => {
    const url = await execUrl({ cmd: ["true"] });
    await assert.rejects(
      SpdyTestClient.connect(url.replace("/exec/", "/attach/"), CLIENT_GO_PROTOCOLS),
      /404/,
    );
    await assert.rejects(SpdyTestClient.connect(url, CLIENT_GO_PROTOCOLS), /404/);
  });

  test("upgrade headers are checked: no protocol is 400, no overlap 403 with the list", async () => {
    const noProtocol = await openUpgrade(await execUrl({ cmd: ["true"] }), [
      ["Connection", "Upgrade"],
      ["Upgrade", "SPDY/3.1"],
    ]);
    noProtocol.socket.destroy();
    assert.equal(noProtocol.response.status, 400);
    const wrong = await openUpgrade(await execUrl({ cmd: ["true"] }), [
      ["Connection", "Upgrade"],
      ["Upgrade", "SPDY/3.1"],
      ["X-Stream-Protocol-Version", "portforward.k8s.io"],
    ]);
    wrong.socket.destroy();
    assert.equal(wrong.response.status, 403);
    assert.ok(
      wrong.response.headers["x-accepted-stream-protocol-versions"]?.includes("v4.channel.k8s.io"),
    );
  });

  test("streams not opened in time end the attempt", async () => {
    const { StreamingServer } = await import("../../src/streaming/streaming-server.ts");
    const quick = await StreamingServer.start({
      bindAddress: "127.0.0.1:0",
      docker: fx.docker,
      log: callContext().log,
      streamCreationTimeoutMs: 300,
    });
    try {
      const { url } = await exec({ server: quick, lookup: fx.lookup })(
        create(ExecRequestSchema, {
          containerId: sandbox,
          cmd: ["true"],
          stdout: true,
          stderr: true,
        }),
        callContext(),
      );
      const client = await SpdyTestClient.connect(url ?? "", CLIENT_GO_PROTOCOLS);
      await client.openStream({ streamtype: "error" }); // then nothing more
      await client.closed;
      assert.equal(quick.activeSessions, 0);
    } finally {
      await quick.stop();
    }
  });
});
