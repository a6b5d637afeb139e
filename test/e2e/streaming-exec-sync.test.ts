import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { isErrorKind } from "../../src/errors.ts";
import { ExecSyncRequestSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { execSync } from "../../src/rpc/runtime/exec-sync.ts";
import { EXEC_SYNC_OUTPUT_LIMIT } from "../../src/streaming/exec-sync.ts";
import {
  callContext,
  eventually,
  hostProcesses,
  runSandbox,
  type StreamingFixture,
  startStreaming,
} from "../support/streaming-pods.ts";

let fx: StreamingFixture;
let container: string;

before(async () => {
  fx = await startStreaming();
  container = await runSandbox(fx.docker);
});
after(async () => {
  await fx.stop();
});

function run(cmd: string[], timeout = 0n, ctx = callContext()) {
  return execSync({ docker: fx.docker, lookup: fx.lookup })(
    create(ExecSyncRequestSchema, { containerId: container, cmd, timeout }),
    ctx,
  );
}

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString();

describe("ExecSync", () => {
  test("returns stdout, stderr and exit code 0", async () => {
    const r = await run(["sh", "-c", "echo out; echo err >&2"]);
    assert.equal(text(r.stdout), "out\n");
    assert.equal(text(r.stderr), "err\n");
    assert.equal(r.exitCode, 0);
  });

  test("returns non-zero exit codes, 1 and 137", async () => {
    assert.equal((await run(["sh", "-c", "exit 1"])).exitCode, 1);
    assert.equal((await run(["sh", "-c", "kill -9 $$"])).exitCode, 137);
  });

  test("a timeout kills the process on the host and is DEADLINE_EXCEEDED", async () => {
    const marker = ["sleep", "1005"];
    const started = Date.now();
    await assert.rejects(
      run(["sh", "-c", `${marker.join(" ")} & exec ${marker.join(" ")}`], 1n),
      (e) => isErrorKind(e, "DeadlineExceeded"),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 5000, `took ${elapsed} ms`);
    assert.ok(
      await eventually(() => hostProcesses(marker).length === 0, 5000),
      "nothing left behind",
    );
  });

  test("a cancelled call kills the process too", async () => {
    const marker = ["sleep", "1006"];
    const controller = new AbortController();
    const ctx = { ...callContext(), signal: controller.signal };
    const call = run(marker, 0n, ctx);
    assert.ok(await eventually(() => hostProcesses(marker).length === 1), "running");
    controller.abort(Object.assign(new Error("cancelled"), { name: "AbortError" }));
    await assert.rejects(call);
    assert.ok(await eventually(() => hostProcesses(marker).length === 0), "killed");
  });

  test("bounds the output and says where it was cut", async () => {
    const size = EXEC_SYNC_OUTPUT_LIMIT + 100_000;
    const r = await run(["sh", "-c", `head -c ${size} /dev/zero; echo done >&2`]);
    const out = Buffer.from(r.stdout ?? []);
    assert.ok(out.length < EXEC_SYNC_OUTPUT_LIMIT + 200);
    assert.match(out.subarray(EXEC_SYNC_OUTPUT_LIMIT).toString(), /output truncated/);
    assert.equal(text(r.stderr), "done\n", "the process ran to its end");
    assert.equal(r.exitCode, 0);
  });

  test("refuses an empty command and a missing container", async () => {
    await assert.rejects(run([]), (e) => isErrorKind(e, "InvalidArgument"));
    await assert.rejects(
      execSync({ docker: fx.docker, lookup: fx.lookup })(
        create(ExecSyncRequestSchema, { containerId: "a".repeat(64), cmd: ["true"] }),
        callContext(),
      ),
      (e) => isErrorKind(e, "NotFound"),
    );
  });
});
