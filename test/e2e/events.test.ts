import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type ContainerEventResponse,
  ContainerEventType,
  PodSandboxState,
} from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";

const fx = loadFixtures();
const cniDir = mkdtempSync(join(tmpdir(), "berth-events-cni-"));
let berth: BerthProcess;

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({ args: ["--cni-conf-dir", cniDir] });
});
after(async () => {
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
});

/** Collects a subscriber's events until `done` resolves, then cancels the stream. */
function subscribe() {
  const events: ContainerEventResponse[] = [];
  const stream = berth.client.runtime.getContainerEvents(
    {},
  ) as AsyncIterable<ContainerEventResponse> & {
    cancel(): void;
  };
  const reading = (async () => {
    try {
      for await (const event of stream) events.push(event);
    } catch {
      // cancelled by the test
    }
  })();
  return {
    events,
    async close() {
      stream.cancel();
      await reading;
    },
  };
}

const NAMES: Record<number, string> = {
  [ContainerEventType.CONTAINER_CREATED_EVENT]: "created",
  [ContainerEventType.CONTAINER_STARTED_EVENT]: "started",
  [ContainerEventType.CONTAINER_STOPPED_EVENT]: "stopped",
  [ContainerEventType.CONTAINER_DELETED_EVENT]: "deleted",
};

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("GetContainerEvents", () => {
  test("two subscribers get the pod's and its container's lifecycle in order", async () => {
    const first = subscribe();
    const second = subscribe();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const config = podConfig("events");
    const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
    const { containerId } = await berth.client.runtime.createContainer({
      podSandboxId,
      sandboxConfig: config,
      config: {
        metadata: { name: "app", attempt: 0 },
        image: { image: fx.images.busybox },
        command: ["sh", "-c", "exit 0"],
      },
    });
    await berth.client.runtime.startContainer({ containerId });
    await waitFor("the container to stop", () =>
      first.events.some(
        (e) =>
          e.containerId === containerId &&
          e.containerEventType === ContainerEventType.CONTAINER_STOPPED_EVENT,
      ),
    );
    await berth.client.runtime.removePodSandbox({ podSandboxId });
    await waitFor("the sandbox's deletion", () =>
      second.events.some(
        (e) =>
          e.containerId === podSandboxId &&
          e.containerEventType === ContainerEventType.CONTAINER_DELETED_EVENT,
      ),
    );
    await first.close();
    await second.close();

    const timeline = (events: ContainerEventResponse[], id: string) =>
      events.filter((e) => e.containerId === id).map((e) => NAMES[e.containerEventType]);
    for (const { events } of [first, second]) {
      assert.deepEqual(timeline(events, podSandboxId), [
        "created",
        "started",
        "stopped",
        "deleted",
      ]);
      assert.deepEqual(timeline(events, containerId), ["created", "started", "stopped", "deleted"]);
      // Both subscribers saw the same events in the same order.
      assert.deepEqual(
        events.map((e) => [e.containerId, e.containerEventType]),
        first.events.map((e) => [e.containerId, e.containerEventType]),
      );
      const times = events.map((e) => e.createdAt);
      assert.deepEqual(
        [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        times,
        "in order",
      );
    }
    const started = first.events.find(
      (e) =>
        e.containerId === containerId &&
        e.containerEventType === ContainerEventType.CONTAINER_STARTED_EVENT,
    );
    assert.equal(started?.podSandboxStatus?.id, podSandboxId);
    assert.equal(started?.podSandboxStatus?.metadata?.name, config.metadata?.name);
    assert.ok(started?.containersStatuses.some((status) => status.id === containerId));
    const sandboxStarted = first.events.find(
      (e) =>
        e.containerId === podSandboxId &&
        e.containerEventType === ContainerEventType.CONTAINER_STARTED_EVENT,
    );
    assert.equal(sandboxStarted?.podSandboxStatus?.state, PodSandboxState.SANDBOX_READY);
    const deleted = first.events.find(
      (e) =>
        e.containerId === containerId &&
        e.containerEventType === ContainerEventType.CONTAINER_DELETED_EVENT,
    );
    assert.ok(deleted?.containersStatuses.some((status) => status.id === containerId));
  });
});
