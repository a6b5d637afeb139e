import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { PodSandboxState } from "../../src/gen/runtime/v1/api_pb.js";
import { startBerth } from "../support/berth-process.ts";
import { bridgePorts, podNatRules, reservations, writeTestNetwork } from "../support/cni.ts";
import { testDocker } from "../support/docker.ts";
import { podConfig } from "../support/pods.ts";

const docker = testDocker();
const dir = mkdtempSync(join(tmpdir(), "berth-recovery-"));
const cniDir = join(dir, "cni");
const rootDir = join(dir, "root");
const socket = join(dir, "berth.sock");

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await docker.close();
});

async function berthContainers(): Promise<string[]> {
  const containers = await docker.listContainers({
    label: ["io.berth.managed=true", "berth.test=recovery"],
  });
  return containers.map((container) => container.Id);
}

describe("recovery after berth is killed", () => {
  test("kill -9 during many sandbox operations, restart, remove all: nothing is left", async () => {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(cniDir, { recursive: true });
    writeTestNetwork(cniDir);
    const reservedBefore = reservations().length;
    const portsBefore = bridgePorts().length;
    const natBefore = podNatRules();
    const args = ["--cni-conf-dir", cniDir];

    const first = await startBerth({ socket, rootDir, args });
    // Some pods complete, then a burst is cut off at a random point by SIGKILL.
    for (let i = 0; i < 3; i++) {
      const config = podConfig(`done-${i}`, { labels: { "berth.test": "recovery" } });
      const { podSandboxId } = await first.client.runtime.runPodSandbox({ config });
      if (i === 0) await first.client.runtime.stopPodSandbox({ podSandboxId });
    }
    const burst = Array.from({ length: 8 }, (_, i) =>
      first.client.runtime
        .runPodSandbox({
          config: podConfig(`burst-${i}`, { labels: { "berth.test": "recovery" } }),
        })
        .catch(() => undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 400)));
    await first.kill();
    await Promise.all(burst);

    const second = await startBerth({ socket, rootDir, args });
    try {
      const { items } = await second.client.runtime.listPodSandbox({
        filter: { labelSelector: { "berth.test": "recovery" } },
      });
      assert.ok(items.length >= 3, `the finished pods are known again (${items.length})`);
      for (const item of items) {
        await second.client.runtime.removePodSandbox({ podSandboxId: item.id });
      }
      assert.deepEqual(await berthContainers(), [], "no berth container left");
      assert.deepEqual(
        existsSync(join(rootDir, "sandboxes")) ? readdirSync(join(rootDir, "sandboxes")) : [],
        [],
        "no checkpoint left",
      );
      assert.equal(reservations().length, reservedBefore, "no IP reservation left");
      assert.equal(bridgePorts().length, portsBefore, "no veth left");
      assert.equal(podNatRules(), natBefore, "no per-pod NAT rule left");
    } finally {
      await second.stop({ keepState: true });
    }
  });

  test("a sandbox whose pause container vanished shows NOTREADY and Remove releases its IP", async () => {
    const reservedBefore = reservations().length;
    const berth = await startBerth({ socket, rootDir, args: ["--cni-conf-dir", cniDir] });
    try {
      const config = podConfig("vanished", { labels: { "berth.test": "recovery" } });
      const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
      assert.equal(reservations().length, reservedBefore + 1);
      await docker.removeContainer(podSandboxId);
      // The engine's destroy event reaches berth; the checkpoint keeps the sandbox listed.
      const deadline = Date.now() + 5000;
      let state: PodSandboxState | undefined;
      while (Date.now() < deadline) {
        state = (await berth.client.runtime.podSandboxStatus({ podSandboxId })).status?.state;
        if (state === PodSandboxState.SANDBOX_NOTREADY) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(state, PodSandboxState.SANDBOX_NOTREADY);
      await berth.client.runtime.removePodSandbox({ podSandboxId });
      assert.equal(
        reservations().length,
        reservedBefore,
        "IP released without the pause container",
      );
      const listed = await berth.client.runtime.listPodSandbox({ filter: { id: podSandboxId } });
      assert.deepEqual(listed.items, []);
    } finally {
      await berth.stop({ keepState: true });
    }
  });

  test("after a restart, a pod whose network broke meanwhile fails CNI CHECK: NOTREADY", async () => {
    const first = await startBerth({ socket, rootDir, args: ["--cni-conf-dir", cniDir] });
    const healthy = podConfig("check-ok", { labels: { "berth.test": "recovery" } });
    const broken = podConfig("check-broken", { labels: { "berth.test": "recovery" } });
    const ok = (await first.client.runtime.runPodSandbox({ config: healthy })).podSandboxId;
    const bad = (await first.client.runtime.runPodSandbox({ config: broken })).podSandboxId;
    await first.stop({ keepState: true });
    // While berth is away, the pod loses its default route (its address stays, so that the
    // bridge plugin can still find and remove its NAT rules at DEL).
    execFileSync("nsenter", [
      `--net=${join(rootDir, "netns", bad)}`,
      "ip",
      "route",
      "del",
      "default",
    ]);
    const second = await startBerth({ socket, rootDir, args: ["--cni-conf-dir", cniDir] });
    try {
      const deadline = Date.now() + 15_000;
      let state: PodSandboxState | undefined;
      while (Date.now() < deadline) {
        state = (await second.client.runtime.podSandboxStatus({ podSandboxId: bad })).status?.state;
        if (state === PodSandboxState.SANDBOX_NOTREADY) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(state, PodSandboxState.SANDBOX_NOTREADY, "the broken pod");
      const fine = await second.client.runtime.podSandboxStatus({ podSandboxId: ok });
      assert.equal(fine.status?.state, PodSandboxState.SANDBOX_READY, "the healthy pod");
      for (const id of [ok, bad])
        await second.client.runtime.removePodSandbox({ podSandboxId: id });
    } finally {
      await second.stop({ keepState: true });
    }
  });

  test("a corrupt checkpoint is set aside and reported, not fatal", async () => {
    const sandboxes = join(rootDir, "sandboxes");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(sandboxes, { recursive: true });
    const id = "c".repeat(64);
    writeFileSync(join(sandboxes, `${id}.json`), "{ torn write");
    const berth = await startBerth({ socket, rootDir, args: ["--cni-conf-dir", cniDir] });
    try {
      await berth.client.runtime.listPodSandbox({});
      assert.ok(!existsSync(join(sandboxes, `${id}.json`)));
      assert.ok(readdirSync(sandboxes).some((name) => name.startsWith(`${id}.json.corrupt-`)));
      assert.match(berth.output(), /corrupt sandbox checkpoint set aside/);
    } finally {
      await berth.stop({ keepState: true });
    }
  });
});
