import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { containerConfig, podConfig } from "../../../test/support/cri-requests.ts";
import { type HandlerHarness, handlerServices } from "../../../test/support/handler-services.ts";
import { isErrorKind } from "../../errors.ts";
import {
  CreateContainerRequestSchema,
  PodSandboxState,
  RemovePodSandboxRequestSchema,
  RunPodSandboxRequestSchema,
  StartContainerRequestSchema,
  StopPodSandboxRequestSchema,
} from "../../gen/runtime/v1/api_pb.js";
import { sandboxState } from "../../runtime/sandbox-convert.ts";
import { runtimeServiceHandlers } from "./runtime-service.ts";
import { NETWORK_TEARDOWN_ATTEMPTS } from "./sandbox-lifecycle.ts";

let h: HandlerHarness;
let rpc: ReturnType<typeof runtimeServiceHandlers>;
const UNKNOWN = "f".repeat(64);

beforeEach(async () => {
  h = await handlerServices();
  h.engine.addImage(["busybox:latest"]);
  rpc = runtimeServiceHandlers(h.services);
});
afterEach(() => h.close());

async function runPod(name: string): Promise<string> {
  const { podSandboxId = "" } = await rpc.runPodSandbox(
    create(RunPodSandboxRequestSchema, { config: podConfig(name) }),
    h.ctx,
  );
  return podSandboxId;
}

async function runContainer(sandboxId: string, name: string): Promise<string> {
  const { containerId = "" } = await rpc.createContainer(
    create(CreateContainerRequestSchema, {
      podSandboxId: sandboxId,
      config: containerConfig(name, "busybox:latest"),
      sandboxConfig: podConfig("web"),
    }),
    h.ctx,
  );
  await rpc.startContainer(create(StartContainerRequestSchema, { containerId }), h.ctx);
  return containerId;
}

const stop = (id: string) =>
  rpc.stopPodSandbox(create(StopPodSandboxRequestSchema, { podSandboxId: id }), h.ctx);
const remove = (id: string) =>
  rpc.removePodSandbox(create(RemovePodSandboxRequestSchema, { podSandboxId: id }), h.ctx);
const checkpointFile = (id: string) => join(h.rootDir, "sandboxes", `${id}.json`);

/** The pause container vanished behind berth's back; the store learns it as from an event. */
async function losePauseContainer(id: string): Promise<void> {
  h.engine.containers.delete(id);
  await h.services.sync.refresh(id);
}

describe("StopPodSandbox", () => {
  test("an unknown id succeeds and touches nothing", async () => {
    assert.deepEqual(await stop(UNKNOWN), {});
    assert.equal(h.engine.count("stopContainer"), 0);
    assert.equal(h.network.detached.length, 0);
  });

  test("an empty id is INVALID_ARGUMENT", async () => {
    await assert.rejects(stop(""), (err) => isErrorKind(err, "InvalidArgument"));
  });

  test("stops containers and pause, releases the network once; twice in a row succeeds", async () => {
    const id = await runPod("web");
    const app = await runContainer(id, "app");
    await stop(id);
    assert.equal(h.engine.containers.get(app)?.State.Status, "exited", "container killed");
    assert.equal(h.engine.containers.get(id)?.State.Status, "exited", "pause stopped");
    assert.deepEqual(h.network.detachedIds(), [id]);
    const record = h.services.store.requireSandbox(id);
    assert.equal(sandboxState(record), PodSandboxState.SANDBOX_NOTREADY);
    assert.equal(record.network?.attached, false);
    assert.deepEqual(record.network?.ips, []);
    assert.ok(existsSync(checkpointFile(id)), "checkpoint stays until Remove");

    await stop(id);
    assert.deepEqual(h.network.detachedIds(), [id], "no second CNI DEL");
    assert.equal(h.services.store.requireSandbox(id).process.status, "exited");
  });

  test("pause container vanished: the network is still released from the checkpoint", async () => {
    const id = await runPod("web");
    await losePauseContainer(id);
    const orphan = h.services.store.requireSandbox(id);
    assert.equal(orphan.process.status, "gone");
    const stopsBefore = h.engine.count("stopContainer");
    await stop(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
    assert.equal(h.engine.count("stopContainer"), stopsBefore, "no stop of a missing container");
    await stop(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
  });

  test("the engine lost the container between refreshes: stop still succeeds", async () => {
    const id = await runPod("web");
    h.engine.containers.delete(id);
    await stop(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
  });
});

describe("RemovePodSandbox", () => {
  test("an unknown id succeeds", async () => {
    assert.deepEqual(await remove(UNKNOWN), {});
    assert.equal(h.engine.count("removeContainer"), 0);
  });

  test("removes containers, pause container, checkpoint and record; twice in a row succeeds", async () => {
    const id = await runPod("web");
    const app = await runContainer(id, "app");
    await remove(id);
    assert.equal(h.engine.containers.size, 0);
    assert.equal(h.services.store.size.sandboxes, 0);
    assert.equal(h.services.store.size.containers, 0);
    assert.equal(existsSync(checkpointFile(id)), false);
    assert.deepEqual(h.network.detachedIds(), [id]);
    assert.ok(h.logs.stopped.includes(app), "the container's log writer stopped");
    assert.ok(h.netns.unpinned.includes(id));

    await remove(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
  });

  test("removes a container of the sandbox the store never learned of (its create's refresh failed)", async () => {
    const id = await runPod("web");
    const { containerId = "" } = await rpc.createContainer(
      create(CreateContainerRequestSchema, {
        podSandboxId: id,
        config: containerConfig("app", "busybox:latest"),
        sandboxConfig: podConfig("web"),
      }),
      h.ctx,
    );
    h.services.store.delete(containerId);
    await remove(id);
    assert.deepEqual([...h.engine.containers.keys()], [], "the engine holds no container");
    assert.equal(h.services.store.size.containers, 0);
  });

  test("a failing CNI DEL fails Stop UNAVAILABLE and is retried by the next Stop or Remove", async () => {
    const id = await runPod("web");
    h.network.detachFailures.push(["CNI plugin flaky failed DEL on network fake-net: no"]);
    await assert.rejects(
      stop(id),
      (err) =>
        isErrorKind(err, "Unavailable") &&
        /attempt 1 of 3.*CNI plugin flaky failed DEL/.test((err as Error).message),
    );
    assert.equal(h.engine.containers.get(id)?.State.Status, "exited", "pause stopped anyway");
    assert.equal(
      sandboxState(h.services.store.requireSandbox(id)),
      PodSandboxState.SANDBOX_NOTREADY,
    );
    assert.equal(h.services.store.requireSandbox(id).network?.teardownFailures, 1);
    assert.equal(h.netns.unpinned.includes(id), false, "the netns stays pinned for the retry");

    await remove(id);
    assert.deepEqual(h.network.detachedIds(), [id, id], "Remove ran DEL again");
    assert.equal(h.services.store.sandbox(id), undefined);
    assert.equal(existsSync(checkpointFile(id)), false);
  });

  test(`a DEL that always fails blocks removal ${NETWORK_TEARDOWN_ATTEMPTS - 1} times, then removal proceeds`, async () => {
    const id = await runPod("web");
    for (let i = 0; i < NETWORK_TEARDOWN_ATTEMPTS; i++) h.network.detachFailures.push(["broken"]);
    await assert.rejects(stop(id), (err) => isErrorKind(err, "Unavailable"));
    await assert.rejects(remove(id), (err) => isErrorKind(err, "Unavailable"));
    assert.ok(existsSync(checkpointFile(id)), "kept for the next try");
    await remove(id);
    assert.equal(h.network.detached.length, NETWORK_TEARDOWN_ATTEMPTS);
    assert.equal(h.services.store.sandbox(id), undefined);
    assert.equal(existsSync(checkpointFile(id)), false);
    assert.equal(h.engine.containers.has(id), false);
  });

  test("DEL failures of an ADD that never completed do not block removal", async () => {
    const id = await runPod("web");
    const sandbox = h.services.store.requireSandbox(id);
    const state = sandbox.network;
    assert.ok(state);
    await h.services.sync.saveNetwork(id, { ...state, cniNetwork: undefined, ready: false });
    h.network.detachFailures.push(["bridge: chain does not exist"]);
    await remove(id);
    assert.equal(h.services.store.sandbox(id), undefined);
  });

  test("removing a stopped sandbox does not detach nor stop the pause container again", async () => {
    const id = await runPod("web");
    await stop(id);
    const stops = h.engine.count("stopContainer", id);
    assert.equal(stops, 1);
    await remove(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
    assert.equal(h.engine.count("stopContainer", id), stops, "no second stop of the pause");
    assert.equal(h.services.store.sandbox(id), undefined);
  });

  test("pause container vanished: network released, checkpoint and record gone", async () => {
    const id = await runPod("web");
    await losePauseContainer(id);
    await remove(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
    assert.equal(existsSync(checkpointFile(id)), false);
    assert.equal(h.services.store.sandbox(id), undefined);
    await remove(id);
  });

  test("an orphan found at restart (pause container gone while berth was down) is removable", async () => {
    const id = await runPod("web");
    // The same root, an engine that lost every container.
    h = await h.restart();
    rpc = runtimeServiceHandlers(h.services);
    assert.equal(await h.services.sync.rebuild(), 1);
    assert.equal(h.services.store.requireSandbox(id).process.status, "gone");
    await remove(id);
    assert.deepEqual(h.network.detachedIds(), [id]);
    assert.equal(existsSync(checkpointFile(id)), false);
    assert.equal(h.services.store.size.sandboxes, 0);
  });
});
