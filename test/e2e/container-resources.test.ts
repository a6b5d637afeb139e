import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { ContainerState } from "../../src/gen/runtime/v1/api_pb.js";
import {
  type ContainerEnv,
  containerConfig,
  containerStatus,
  outputOf,
  type Pod,
  runContainer,
  runPod,
  startContainerEnv,
} from "../support/containers.ts";
import { expectCode } from "../support/grpc.ts";

/**
 * Resource limits as the kernel applies them (the container's cgroup files) and as
 * ContainerStatus reports them, at creation and after UpdateContainerResources.
 */

let env: ContainerEnv;
let pod: Pod;

before(async () => {
  env = await startContainerEnv();
  pod = await runPod(env, "resources");
});

after(async () => {
  await env.close();
});

const MiB = 1024n * 1024n;
const cgroupV2 = !existsSync("/sys/fs/cgroup/memory");

/** A file of a process's cgroup for a controller (cgroup v1) or of its unified cgroup (v2). */
function cgroupFile(pid: number, controller: string, file: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  if (cgroupV2) {
    const path = lines.find((line) => line.startsWith("0::"))?.slice(3) ?? "";
    return readFileSync(`/sys/fs/cgroup${path}/${file}`, "utf8").trim();
  }
  for (const line of lines) {
    const [, controllers = "", path = ""] = line.split(":");
    if (controllers.split(",").includes(controller)) {
      return readFileSync(`/sys/fs/cgroup/${controller}${path}/${file}`, "utf8").trim();
    }
  }
  assert.fail(`process ${pid} has no ${controller} cgroup`);
}

interface Limits {
  memory?: bigint;
  /** memory + swap; v2 reports the swap part alone. */
  memorySwap?: bigint;
  shares?: bigint;
  quota?: bigint;
  period?: bigint;
  cpus?: string;
}

/** Asserts the container's cgroup holds these limits. */
function assertCgroup(pid: number, limits: Limits): void {
  if (cgroupV2) {
    if (limits.memory !== undefined) {
      assert.equal(cgroupFile(pid, "memory", "memory.max"), String(limits.memory), "memory.max");
    }
    if (limits.memorySwap !== undefined && limits.memory !== undefined) {
      assert.equal(
        cgroupFile(pid, "memory", "memory.swap.max"),
        String(limits.memorySwap - limits.memory),
        "memory.swap.max",
      );
    }
    if (limits.shares !== undefined) {
      const weight = 1n + ((limits.shares - 2n) * 9999n) / 262142n;
      assert.equal(cgroupFile(pid, "cpu", "cpu.weight"), String(weight), "cpu.weight");
    }
    if (limits.quota !== undefined && limits.period !== undefined) {
      assert.equal(cgroupFile(pid, "cpu", "cpu.max"), `${limits.quota} ${limits.period}`);
    }
  } else {
    if (limits.memory !== undefined) {
      assert.equal(
        cgroupFile(pid, "memory", "memory.limit_in_bytes"),
        String(limits.memory),
        "memory.limit_in_bytes",
      );
    }
    if (
      limits.memorySwap !== undefined &&
      existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    ) {
      assert.equal(
        cgroupFile(pid, "memory", "memory.memsw.limit_in_bytes"),
        String(limits.memorySwap),
        "memory.memsw.limit_in_bytes",
      );
    }
    if (limits.shares !== undefined) {
      assert.equal(cgroupFile(pid, "cpu", "cpu.shares"), String(limits.shares), "cpu.shares");
    }
    if (limits.quota !== undefined) {
      assert.equal(cgroupFile(pid, "cpu", "cpu.cfs_quota_us"), String(limits.quota), "quota");
    }
    if (limits.period !== undefined) {
      assert.equal(cgroupFile(pid, "cpu", "cpu.cfs_period_us"), String(limits.period), "period");
    }
  }
  if (limits.cpus !== undefined) {
    assert.equal(cgroupFile(pid, "cpuset", "cpuset.cpus"), limits.cpus, "cpuset.cpus");
  }
}

describe("container resources", () => {
  test("limits at creation: in the cgroup and in ContainerStatus; swap equals memory when unset", async () => {
    const cpus = availableParallelism() > 1 ? "1" : "0";
    const c = await runContainer(
      env,
      pod,
      containerConfig("limited", {
        linux: {
          resources: {
            memoryLimitInBytes: 96n * MiB,
            cpuShares: 512n,
            cpuQuota: 50_000n,
            cpuPeriod: 100_000n,
            cpusetCpus: cpus,
          },
        },
      }),
    );
    assertCgroup(c.pid, {
      memory: 96n * MiB,
      memorySwap: 96n * MiB,
      shares: 512n,
      quota: 50_000n,
      period: 100_000n,
      cpus,
    });
    const r = (await containerStatus(env, c.id)).resources?.linux;
    assert.ok(r, "resources reported");
    assert.equal(r.memoryLimitInBytes, 96n * MiB);
    assert.equal(r.memorySwapLimitInBytes, 96n * MiB, "no swap unless asked: memory + 0");
    assert.equal(r.cpuShares, 512n);
    assert.equal(r.cpuQuota, 50_000n);
    assert.equal(r.cpuPeriod, 100_000n);
    assert.equal(r.cpusetCpus, cpus);
  });

  test("oom_score_adj: what the process really has, as ContainerStatus reports it", async () => {
    const [high, low] = await Promise.all([
      runContainer(
        env,
        pod,
        containerConfig("oom-high", { linux: { resources: { oomScoreAdj: 700n } } }),
      ),
      // The kubelet's value for Guaranteed pods; hosts without CAP_SYS_RESOURCE clamp it.
      runContainer(
        env,
        pod,
        containerConfig("oom-low", { linux: { resources: { oomScoreAdj: -997n } } }),
      ),
    ]);
    const adj = (pid: number) => BigInt(readFileSync(`/proc/${pid}/oom_score_adj`, "utf8").trim());
    assert.equal(adj(high.pid), 700n);
    assert.equal((await containerStatus(env, high.id)).resources?.linux?.oomScoreAdj, 700n);
    const lowApplied = adj(low.pid);
    assert.ok(lowApplied >= -997n && lowApplied <= 0n, `clamped at most to 0 (${lowApplied})`);
    if (lowApplied !== -997n) {
      console.log(`# this host cannot lower oom_score_adj: -997 became ${lowApplied}`);
    }
    assert.equal(
      (await containerStatus(env, low.id)).resources?.linux?.oomScoreAdj,
      lowApplied,
      "reported as applied",
    );
  });

  test("a container over its memory limit is killed: EXITED, reason OOMKilled, exit code 137", async () => {
    const { status, lines } = await outputOf(
      env,
      pod,
      "oom",
      // dd's 128 MiB buffer, filled from /dev/zero, cannot fit in 32 MiB without swap.
      "echo start; exec dd if=/dev/zero of=/dev/null bs=128M count=4",
      { linux: { resources: { memoryLimitInBytes: 32n * MiB } } },
    );
    assert.deepEqual(lines, ["start"]);
    assert.equal(status.state, ContainerState.CONTAINER_EXITED);
    assert.equal(status.reason, "OOMKilled");
    assert.equal(status.exitCode, 137);
  });

  test("UpdateContainerResources: new limits in the cgroup and in ContainerStatus, up and down", async () => {
    const c = await runContainer(
      env,
      pod,
      containerConfig("updated", {
        linux: { resources: { memoryLimitInBytes: 64n * MiB, cpuShares: 256n } },
      }),
    );
    assertCgroup(c.pid, { memory: 64n * MiB, memorySwap: 64n * MiB, shares: 256n });

    // Up: memory above the old memory+swap total must work (both travel together).
    await env.berth.client.runtime.updateContainerResources({
      containerId: c.id,
      linux: {
        memoryLimitInBytes: 192n * MiB,
        cpuShares: 1024n,
        cpuQuota: 20_000n,
        cpuPeriod: 100_000n,
      },
    });
    assertCgroup(c.pid, {
      memory: 192n * MiB,
      memorySwap: 192n * MiB,
      shares: 1024n,
      quota: 20_000n,
      period: 100_000n,
    });
    let r = (await containerStatus(env, c.id)).resources?.linux;
    assert.equal(r?.memoryLimitInBytes, 192n * MiB);
    assert.equal(r?.memorySwapLimitInBytes, 192n * MiB);
    assert.equal(r?.cpuShares, 1024n);
    assert.equal(r?.cpuQuota, 20_000n);
    assert.equal(r?.cpuPeriod, 100_000n);

    // Down again.
    await env.berth.client.runtime.updateContainerResources({
      containerId: c.id,
      linux: { memoryLimitInBytes: 48n * MiB, cpuShares: 128n },
    });
    assertCgroup(c.pid, { memory: 48n * MiB, memorySwap: 48n * MiB, shares: 128n });
    r = (await containerStatus(env, c.id)).resources?.linux;
    assert.equal(r?.memoryLimitInBytes, 48n * MiB);
    assert.equal(r?.memorySwapLimitInBytes, 48n * MiB);
    assert.equal(r?.cpuShares, 128n);
    assert.equal(r?.cpuQuota, 20_000n, "what was not updated stays");
    assert.equal(
      (await containerStatus(env, c.id)).state,
      ContainerState.CONTAINER_RUNNING,
      "still running",
    );
  });

  test("UpdateContainerResources: a first memory limit on an unlimited container; bad input refused", async () => {
    const c = await runContainer(env, pod, containerConfig("unlimited"));
    await env.berth.client.runtime.updateContainerResources({
      containerId: c.id,
      linux: { memoryLimitInBytes: 80n * MiB },
    });
    assertCgroup(c.pid, { memory: 80n * MiB, memorySwap: 80n * MiB });
    assert.equal(
      (await containerStatus(env, c.id)).resources?.linux?.memoryLimitInBytes,
      80n * MiB,
    );

    await expectCode(
      env.berth.client.runtime.updateContainerResources({
        containerId: c.id,
        linux: { memoryLimitInBytes: 64n * MiB, memorySwapLimitInBytes: 32n * MiB },
      }),
      status.INVALID_ARGUMENT,
      /memory_swap_limit_in_bytes/,
    );
    await expectCode(
      env.berth.client.runtime.updateContainerResources({ containerId: c.id }),
      status.INVALID_ARGUMENT,
      /linux/,
    );
    assertCgroup(c.pid, { memory: 80n * MiB, memorySwap: 80n * MiB });
  });
});
