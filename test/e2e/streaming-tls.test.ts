import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ExecRequestSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { exec } from "../../src/rpc/runtime/exec.ts";
import { execOverSpdy } from "../support/remote-command-client.ts";
import {
  callContext,
  runSandbox,
  type StreamingFixture,
  startStreaming,
} from "../support/streaming-pods.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-streaming-tls-"));
let fx: StreamingFixture;
let sandbox: string;

before(async () => {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  fx = await startStreaming({
    bindAddress: "[::1]:0",
    tls: { certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") },
  });
  sandbox = await runSandbox(fx.docker);
});
after(async () => {
  await fx.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("serves TLS on an IPv6 bind address, with https URLs naming it", async () => {
  const { url } = await exec(fx.deps)(
    create(ExecRequestSchema, { containerId: sandbox, cmd: ["echo", "over tls"], stdout: true }),
    callContext(),
  );
  assert.match(url ?? "", /^https:\/\/\[::1\]:\d+\/exec\/[A-Za-z0-9_-]{8}$/);
  const result = await execOverSpdy(url ?? "", { stdout: true });
  assert.equal(result.stdout, "over tls\n");
  assert.equal(result.exitCode, 0);
});
