import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  BUSYBOX,
  type ContainerEnv,
  containerConfig,
  runContainer,
  runPod,
  startContainerEnv,
} from "../support/containers.ts";
import { podConfig } from "../support/pods.ts";

/**
 * Concurrent calls on one object, as critest's "should not fail on simultaneous RemoveImage
 * calls" and a kubelet retrying after timeouts make them: every call succeeds, whichever got
 * there first, and nothing is left behind.
 */

const CALLS = 10;
let env: ContainerEnv;

before(async () => {
  env = await startContainerEnv();
});

after(async () => {
  await env.close();
});

/** An image of its own (a label makes its ID unique), so removing it touches no fixture. */
function buildOwnImage(tag: string): string {
  execFileSync("docker", ["build", "-q", "-t", tag, "-"], {
    input: `FROM ${BUSYBOX}\nLABEL berth.test.race=${randomUUID()}\n`,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return tag;
}

async function imageGone(ref: string): Promise<boolean> {
  return (await env.docker.findImage(ref)) === undefined;
}

async function containersNamed(podName: string): Promise<string[]> {
  const all = await env.docker.listContainers({ label: [`io.kubernetes.pod.name=${podName}`] });
  return all.map((container) => container.Id);
}

function checkpoints(): string[] {
  const dir = join(env.berth.rootDir, "sandboxes");
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe("concurrent calls on one object", () => {
  test(`${CALLS} concurrent RemoveImage of one image (by tag and by id) all succeed`, async () => {
    const tag = buildOwnImage(`berth-test/race-remove:${randomUUID().slice(0, 8)}`);
    const id = (await env.docker.inspectImage(tag)).Id;
    const calls = Array.from({ length: CALLS }, (_, i) =>
      env.berth.client.image.removeImage({ image: { image: i % 2 === 0 ? tag : id } }),
    );
    const results = await Promise.allSettled(calls);
    assert.deepEqual(
      results.filter((result) => result.status === "rejected"),
      [],
      "no removal failed",
    );
    assert.ok(await imageGone(id), "the image is gone");
  });

  test("RemoveImage racing removals sent straight to the engine all succeed", async () => {
    const tag = buildOwnImage(`berth-test/race-remove-engine:${randomUUID().slice(0, 8)}`);
    const id = (await env.docker.inspectImage(tag)).Id;
    const engine = Array.from({ length: CALLS }, () =>
      env.docker.removeImage(id, true).catch(() => {}),
    );
    const berth = Array.from({ length: CALLS }, () =>
      env.berth.client.image.removeImage({ image: { image: id } }),
    );
    const results = await Promise.allSettled(berth);
    await Promise.all(engine);
    assert.deepEqual(
      results.filter((result) => result.status === "rejected"),
      [],
      "no berth removal failed, whoever removed the image",
    );
    assert.ok(await imageGone(id), "the image is gone");
  });

  test(`${CALLS} concurrent Stop and Remove of one sandbox all succeed, nothing left`, async () => {
    const pod = await runPod(env, "race-sandbox");
    await runContainer(env, pod, containerConfig("race-sandbox-ctr"));
    const podName = pod.config.metadata?.name ?? "";
    const { runtime } = env.berth.client;
    const calls = Array.from({ length: CALLS }, (_, i) =>
      i % 2 === 0
        ? runtime.stopPodSandbox({ podSandboxId: pod.id })
        : runtime.removePodSandbox({ podSandboxId: pod.id }),
    );
    const results = await Promise.allSettled(calls);
    assert.deepEqual(
      results.filter((result) => result.status === "rejected"),
      [],
      "no Stop or Remove failed",
    );
    // Calls may finish in any order: one last Remove makes the end state certain.
    await runtime.removePodSandbox({ podSandboxId: pod.id });
    assert.deepEqual(await containersNamed(podName), [], "no container of the pod left");
    assert.ok(!checkpoints().includes(pod.id), "no checkpoint left");
    const { items } = await runtime.listPodSandbox({ filter: { id: pod.id } });
    assert.deepEqual(items, [], "the sandbox is unknown");
  });

  test(`${CALLS} concurrent Stop and Remove of one container all succeed`, async () => {
    const pod = await runPod(env, "race-container");
    const container = await runContainer(env, pod, containerConfig("race-ctr"));
    const { runtime } = env.berth.client;
    const calls = Array.from({ length: CALLS }, (_, i) =>
      i % 2 === 0
        ? runtime.stopContainer({ containerId: container.id, timeout: 0n })
        : runtime.removeContainer({ containerId: container.id }),
    );
    const results = await Promise.allSettled(calls);
    assert.deepEqual(
      results.filter((result) => result.status === "rejected"),
      [],
      "no Stop or Remove failed",
    );
    await runtime.removeContainer({ containerId: container.id });
    assert.equal(await env.docker.findContainer(container.id), undefined, "the container is gone");
    const { containers } = await runtime.listContainers({ filter: { id: container.id } });
    assert.deepEqual(containers, [], "the container is unknown");
  });

  test("RunPodSandbox retries racing Stop and Remove of the first sandbox all succeed", async () => {
    const config = podConfig("race-run");
    const podName = config.metadata?.name ?? "";
    const { runtime } = env.berth.client;
    const first = (await runtime.runPodSandbox({ config })).podSandboxId;
    const runs = Array.from({ length: CALLS / 2 }, () => runtime.runPodSandbox({ config }));
    const teardowns = Array.from({ length: CALLS }, (_, i) =>
      i % 2 === 0
        ? runtime.stopPodSandbox({ podSandboxId: first })
        : runtime.removePodSandbox({ podSandboxId: first }),
    );
    const results = await Promise.allSettled([...runs, ...teardowns]);
    assert.deepEqual(
      results.filter((result) => result.status === "rejected"),
      [],
      "no Run, Stop or Remove failed",
    );
    const ids = new Set<string>([first]);
    for (const run of await Promise.all(runs)) ids.add(run.podSandboxId);
    // One pod name has at most one sandbox at a time: never a duplicate pause container.
    const live = await containersNamed(podName);
    assert.ok(live.length <= 1, `at most one sandbox of the pod exists (${live.length})`);
    for (const id of live) assert.ok(ids.has(id), "the sandbox left is one a Run answered");
    for (const id of ids) await runtime.removePodSandbox({ podSandboxId: id });
    assert.deepEqual(await containersNamed(podName), [], "nothing of the pod is left");
    for (const id of ids) assert.ok(!checkpoints().includes(id), "no checkpoint left");
  });
});
