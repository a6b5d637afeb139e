import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { isErrorKind } from "../../src/errors.ts";
import { AttachRequestSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { attach } from "../../src/rpc/runtime/attach.ts";
import { finishSpdySession, openSpdySession } from "../support/remote-command-client.ts";
import {
  callContext,
  eventually,
  runContainer,
  type StreamingFixture,
  startStreaming,
} from "../support/streaming-pods.ts";

let fx: StreamingFixture;

before(async () => {
  fx = await startStreaming();
});
after(async () => {
  await fx.stop();
});

interface AttachInit {
  containerId: string;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
}

async function attachUrl(init: AttachInit): Promise<string> {
  const response = await attach(fx.deps)(create(AttachRequestSchema, init), callContext());
  return response.url ?? "";
}

/** Collects a stream's text until it contains `needle`. */
function waitFor(
  stream: NonNullable<Awaited<ReturnType<typeof openSpdySession>>["stdout"]>,
  needle: string,
) {
  return new Promise<void>((resolve) => {
    const check = () => {
      if (stream.text().includes(needle)) {
        stream.off("data", check);
        resolve();
      }
    };
    stream.on("data", check);
    check();
  });
}

describe("attach over SPDY", () => {
  test("to a shell with stdin (no tty): input reaches it, output comes back, stdin EOF ends it", async () => {
    const id = await runContainer(fx.docker, {
      Cmd: ["sh"],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
    });
    const url = await attachUrl({ containerId: id, stdin: true, stdout: true, stderr: true });
    const session = await openSpdySession(url, { stdin: true, stdout: true, stderr: true });
    const stdin = session.stdin as NonNullable<typeof session.stdin>;
    await stdin.write("echo hello from attach; echo to-stderr >&2\n");
    await waitFor(session.stdout as NonNullable<typeof session.stdout>, "hello from attach");
    await stdin.end(); // StdinOnce: the shell sees EOF and exits, which ends the attach
    const result = await finishSpdySession(session);
    assert.equal(result.stdout, "hello from attach\n");
    assert.equal(result.stderr, "to-stderr\n");
    assert.equal(result.exitCode, 0);
    assert.ok(await eventually(async () => !(await fx.lookup.container(id))?.running));
  });

  test("to a tty container: resize reaches the terminal", async () => {
    const id = await runContainer(fx.docker, {
      Cmd: ["sh"],
      OpenStdin: true,
      Tty: true,
      AttachStdin: true,
    });
    const url = await attachUrl({ containerId: id, stdin: true, stdout: true, tty: true });
    const session = await openSpdySession(url, { stdin: true, stdout: true, tty: true });
    await session.resize?.write('{"Width":77,"Height":33}\n');
    const stdin = session.stdin as NonNullable<typeof session.stdin>;
    const stdout = session.stdout as NonNullable<typeof session.stdout>;
    // The resize is applied asynchronously: ask until the terminal reports it.
    for (let i = 0; i < 50 && !stdout.text().includes("33 77"); i++) {
      await stdin.write("stty size\n");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(stdout.text(), /33 77/);
    await stdin.write("exit\n");
    const result = await finishSpdySession(session);
    assert.equal(result.exitCode, 0);
  });

  test("a client leaving only detaches: the container keeps running", async () => {
    const id = await runContainer(fx.docker, {
      Cmd: ["sh", "-c", "while true; do echo tick; sleep 0.2; done"],
    });
    const url = await attachUrl({ containerId: id, stdout: true, stderr: true });
    const session = await openSpdySession(url, { stdout: true, stderr: true });
    await waitFor(session.stdout as NonNullable<typeof session.stdout>, "tick");
    session.client.destroy();
    assert.ok(await eventually(() => fx.server.activeSessions === 0), "session freed");
    assert.equal((await fx.lookup.container(id))?.running, true);
  });

  test("Attach RPC: a stopped container is FAILED_PRECONDITION, an unknown one NOT_FOUND", async () => {
    const stopped = await runContainer(fx.docker, { Cmd: ["true"] });
    await eventually(async () => !(await fx.lookup.container(stopped))?.running);
    await assert.rejects(attachUrl({ containerId: stopped, stdout: true }), (e) =>
      isErrorKind(e, "FailedPrecondition"),
    );
    await assert.rejects(attachUrl({ containerId: "0".repeat(64), stdout: true }), (e) =>
      isErrorKind(e, "NotFound"),
    );
    await assert.rejects(
      attachUrl({ containerId: stopped, stdout: true, tty: true, stderr: true }),
      (e) => isErrorKind(e, "InvalidArgument"),
    );
  });
});
