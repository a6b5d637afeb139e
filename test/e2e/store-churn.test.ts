import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ContainerState } from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { testDocker } from "../support/docker.ts";
import { setupEnginePid, startSetupEngine } from "../support/engine.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";

/**
 * berth answers List and Status from its cache. After random sequences of operations, some
 * through berth and some behind its back, and after a restart of the engine, what berth shows
 * must equal what Docker says, within moments.
 */
const fx = loadFixtures();
const docker = testDocker();
const cniDir = mkdtempSync(join(tmpdir(), "berth-churn-cni-"));
let berth: BerthProcess;
const pods: Array<{ id: string; config: ReturnType<typeof podConfig> }> = [];

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({ args: ["--cni-conf-dir", cniDir] });
  for (let i = 0; i < 3; i++) {
    const config = podConfig(`churn-${i}`, { labels: { "berth.test": "churn" } });
    pods.push({ id: (await berth.client.runtime.runPodSandbox({ config })).podSandboxId, config });
  }
});
after(async () => {
  for (const pod of pods) await berth.client.runtime.removePodSandbox({ podSandboxId: pod.id });
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
  await docker.close();
});

/** Docker's truth in CRI terms: id → state, for the berth containers of these pods. */
async function dockerView(): Promise<Map<string, ContainerState>> {
  const view = new Map<string, ContainerState>();
  const podIds = new Set(pods.map((pod) => pod.id));
  for (const summary of await docker.listContainers({ label: ["io.berth.kind=container"] })) {
    if (!podIds.has(summary.Labels?.["io.berth.sandbox-id"] ?? "")) continue;
    const inspect = await docker.findContainer(summary.Id);
    if (!inspect) continue;
    const state = inspect.State;
    view.set(
      summary.Id,
      state.Status === "running"
        ? ContainerState.CONTAINER_RUNNING
        : state.Status === "created" && state.Error === ""
          ? ContainerState.CONTAINER_CREATED
          : ContainerState.CONTAINER_EXITED,
    );
  }
  return view;
}

async function berthView(): Promise<Map<string, ContainerState>> {
  const view = new Map<string, ContainerState>();
  const podIds = new Set(pods.map((pod) => pod.id));
  for (const container of (await berth.client.runtime.listContainers({})).containers) {
    if (podIds.has(container.podSandboxId)) view.set(container.id, container.state);
  }
  return view;
}

async function assertConverges(what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  let berthSees = await berthView();
  let dockerSays = await dockerView();
  while (Date.now() < deadline) {
    if (JSON.stringify([...berthSees].sort()) === JSON.stringify([...dockerSays].sort())) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
    berthSees = await berthView();
    dockerSays = await dockerView();
  }
  assert.deepEqual([...berthSees].sort(), [...dockerSays].sort(), what);
}

/** A small deterministic random generator: a failing sequence can be replayed by its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("the state cache under churn", () => {
  test("random operations through berth and behind its back: berth equals Docker", async () => {
    const seed = Date.now() % 100_000;
    const next = random(seed);
    const pick = <T>(items: T[]): T | undefined => items[Math.floor(next() * items.length)];
    const live: string[] = [];
    let made = 0;
    for (let step = 0; step < 40; step++) {
      const choice = next();
      const target = pick(live);
      if (choice < 0.3 || !target) {
        const pod = pick(pods);
        if (!pod) continue;
        const { containerId } = await berth.client.runtime.createContainer({
          podSandboxId: pod.id,
          sandboxConfig: pod.config,
          config: {
            metadata: { name: `c${made++}`, attempt: 0 },
            image: { image: fx.images.busybox },
            command: ["sh", "-c", next() < 0.5 ? "sleep 3600" : "sleep 0.2"],
          },
        });
        live.push(containerId);
      } else if (choice < 0.55) {
        await berth.client.runtime.startContainer({ containerId: target }).catch(() => {});
      } else if (choice < 0.7) {
        await berth.client.runtime.stopContainer({ containerId: target, timeout: 0n });
      } else if (choice < 0.8) {
        // Behind berth's back: the engine's events must tell berth.
        await docker.killContainer(target, "SIGKILL").catch(() => {});
      } else if (choice < 0.9) {
        await berth.client.runtime.removeContainer({ containerId: target });
        live.splice(live.indexOf(target), 1);
      } else {
        await docker.removeContainer(target).catch(() => {});
        live.splice(live.indexOf(target), 1);
      }
    }
    await assertConverges(`after 40 random steps (seed ${seed})`);
  });

  test("after the engine restarts, berth shows what Docker shows", {
    skip:
      setupEnginePid() === undefined ? "the engine was not started by this machine's setup" : false,
  }, async () => {
    const pod = pods[0];
    assert.ok(pod);
    const { containerId } = await berth.client.runtime.createContainer({
      podSandboxId: pod.id,
      sandboxConfig: pod.config,
      config: {
        metadata: { name: "survivor", attempt: 0 },
        image: { image: fx.images.busybox },
        command: ["sleep", "3600"],
      },
    });
    await berth.client.runtime.startContainer({ containerId });
    process.kill(setupEnginePid() as number, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (setupEnginePid() !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    startSetupEngine();
    // The event stream broke; berth resynchronises from the engine when it returns.
    await assertConverges("after the engine restarted");
    const status = await berth.client.runtime.containerStatus({ containerId });
    assert.equal(status.status?.state, ContainerState.CONTAINER_EXITED);
  });
});
