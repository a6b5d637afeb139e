import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { expectCode } from "../support/grpc.ts";
import { podConfig } from "../support/pods.ts";
import { forwardOnce, httpBody } from "../support/port-forward-client.ts";
import { execOverSpdy } from "../support/remote-command-client.ts";
import { SpdyTestClient } from "../support/spdy-client.ts";

/**
 * The streaming RPCs as the kubelet reaches them: through berth's CRI socket, on a pod berth
 * made, with berth's own state deciding what may be streamed.
 */
const fx = loadFixtures();
const cniDir = mkdtempSync(join(tmpdir(), "berth-streaming-cni-"));
let berth: BerthProcess;
let podSandboxId: string;
let containerId: string;

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({ args: ["--cni-conf-dir", cniDir] });
  const config = podConfig("streaming");
  podSandboxId = (await berth.client.runtime.runPodSandbox({ config })).podSandboxId;
  containerId = (
    await berth.client.runtime.createContainer({
      podSandboxId,
      sandboxConfig: config,
      config: {
        metadata: { name: "app", attempt: 0 },
        image: { image: fx.images.busybox },
        // A server bound to the pod's localhost only: reachable through port-forward alone.
        command: [
          "sh",
          "-c",
          "mkdir -p /tmp/www && echo pong > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:7070 -h /tmp/www",
        ],
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

describe("streaming through berth", () => {
  test("Exec answers an absolute single-use URL that runs the command", async () => {
    const { url } = await berth.client.runtime.exec({
      containerId,
      cmd: ["sh", "-c", "echo hello; echo oops >&2; exit 3"],
      stdout: true,
      stderr: true,
    });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    const result = await execOverSpdy(url, { stdout: true, stderr: true });
    assert.equal(result.stdout, "hello\n");
    assert.equal(result.stderr, "oops\n");
    assert.equal(result.exitCode, 3);
    // The token was used: a replay is refused.
    await assert.rejects(execOverSpdy(url, { stdout: true, stderr: true }));
  });

  test("ExecSync returns output and exit code", async () => {
    const response = await berth.client.runtime.execSync({
      containerId,
      cmd: ["sh", "-c", "echo synced; exit 2"],
      timeout: 10n,
    });
    assert.equal(Buffer.from(response.stdout).toString(), "synced\n");
    assert.equal(response.exitCode, 2);
  });

  test("PortForward reaches a server on the pod's localhost", async () => {
    const { url } = await berth.client.runtime.portForward({ podSandboxId, port: [7070] });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/portforward\/[A-Za-z0-9_-]+$/);
    const client = await SpdyTestClient.connect(url, ["portforward.k8s.io"]);
    try {
      const result = await forwardOnce(client, 7070, 0, "GET / HTTP/1.0\r\n\r\n");
      assert.equal(result.error, "");
      assert.equal(httpBody(result.data).toString(), "pong\n");
    } finally {
      await client.close();
    }
  });

  test("unknown containers and sandboxes are NOT_FOUND; a stopped sandbox FAILED_PRECONDITION", async () => {
    await expectCode(
      berth.client.runtime.exec({ containerId: "f".repeat(64), cmd: ["true"], stdout: true }),
      status.NOT_FOUND,
    );
    await expectCode(
      berth.client.runtime.portForward({ podSandboxId: "f".repeat(64), port: [80] }),
      status.NOT_FOUND,
    );
    const other = podConfig("stopped");
    const { podSandboxId: stopped } = await berth.client.runtime.runPodSandbox({ config: other });
    await berth.client.runtime.stopPodSandbox({ podSandboxId: stopped });
    await expectCode(
      berth.client.runtime.portForward({ podSandboxId: stopped, port: [80] }),
      status.FAILED_PRECONDITION,
    );
    await berth.client.runtime.removePodSandbox({ podSandboxId: stopped });
  });
});
