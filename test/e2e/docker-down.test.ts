import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { DOCKER_HOST, setupEnginePid, startSetupEngine } from "../support/engine.ts";
import { expectCode } from "../support/grpc.ts";

function runtimeReady(response: {
  status?: {
    conditions: Array<{ type: string; status: boolean; reason: string; message: string }>;
  };
}) {
  const found = response.status?.conditions.find((c) => c.type === "RuntimeReady");
  assert.ok(found);
  return found;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("while Docker Engine is unreachable", () => {
  test("berth serves, Status says why, engine calls fail UNAVAILABLE", async () => {
    const berth = await startBerth({
      args: ["--docker-endpoint", "unix:///run/berth-no-such-engine.sock"],
    });
    try {
      const ready = runtimeReady(await berth.client.runtime.status({}));
      assert.equal(ready.status, false);
      assert.equal(ready.reason, "DockerDaemonNotReady");
      assert.match(ready.message, /berth-no-such-engine\.sock/);
      await expectCode(berth.client.runtime.version({}), status.UNAVAILABLE, /unreachable/);
      await expectCode(berth.client.image.listImages({}), status.UNAVAILABLE);
      await expectCode(
        berth.client.image.imageStatus({ image: { image: "busybox" } }),
        status.UNAVAILABLE,
      );
      assert.equal(berth.child.exitCode, null, "berth keeps running");
    } finally {
      await berth.stop();
    }
  });
});

describe("Docker Engine stopped and started again", () => {
  const pid = setupEnginePid();
  let berth: BerthProcess | undefined;

  after(async () => {
    // Whatever happened, leave the engine running for the rest of the suite.
    startSetupEngine();
    await berth?.stop();
  });

  test("RuntimeReady follows the engine with no berth restart", {
    skip:
      pid === undefined
        ? `the engine on ${DOCKER_HOST} was not started by this machine's setup: not stopping it`
        : false,
  }, async () => {
    const running = await startBerth();
    berth = running;
    assert.equal(runtimeReady(await running.client.runtime.status({})).status, true);

    process.kill(pid as number, "SIGTERM");
    await waitUntil("dockerd to exit", () => setupEnginePid() === undefined, 60_000);

    // berth pings at most once a second: within a few seconds Status must say so.
    await waitUntil(
      "RuntimeReady=false",
      async () => !runtimeReady(await running.client.runtime.status({})).status,
      5_000,
    );
    const down = runtimeReady(await running.client.runtime.status({}));
    assert.equal(down.status, false);
    assert.equal(down.reason, "DockerDaemonNotReady");
    await expectCode(running.client.runtime.version({}), status.UNAVAILABLE);

    startSetupEngine();
    await waitUntil(
      "RuntimeReady",
      async () => runtimeReady(await running.client.runtime.status({})).status,
      30_000,
    );
    const version = await running.client.runtime.version({});
    assert.equal(version.runtimeName, "docker");
    assert.equal(running.child.exitCode, null);
  });
});
