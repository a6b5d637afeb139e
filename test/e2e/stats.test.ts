import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createSocket } from "node:dgram";
import { readdirSync, readFileSync, rmdirSync } from "node:fs";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { isErrorKind } from "../../src/errors.ts";
import {
  ContainerState,
  ContainerStatsFilterSchema,
  type ContainerStats as CriContainerStats,
  ListContainerStatsRequestSchema,
  ListPodSandboxStatsRequestSchema,
  MetricType,
  NamespaceMode,
  PodSandboxStatsFilterSchema,
} from "../../src/gen/runtime/v1/api_pb.js";
import type { CallContext } from "../../src/server/call-context.ts";
import { StatsCollector } from "../../src/stats/stats-collector.ts";
import { dockerUpperDirs } from "../../src/stats/writable-layer.ts";
import { DockerSync } from "../../src/store/docker-sync.ts";
import { instanceOf } from "../../src/store/labels.ts";
import { SandboxCheckpoints } from "../../src/store/sandbox-checkpoint.ts";
import { StateStore } from "../../src/store/state-store.ts";
import {
  type Container,
  type ContainerEnv,
  containerConfig,
  createContainer,
  type Pod,
  runContainer,
  runPod,
  startContainerEnv,
  waitForState,
} from "../support/containers.ts";
import { expectCode } from "../support/grpc.ts";
import { statsRpcs } from "../support/stats-rpcs.ts";

/**
 * Container and pod statistics against the kernel's own numbers: a container burning a CPU,
 * one holding 48 MiB of anonymous memory, one that wrote to its writable layer, traffic into
 * the pod. Pods and containers are made through berth's socket.
 *
 * Part 1 runs the stats handlers in this process, over a StateStore that DockerSync keeps
 * equal to the engine (as berth's own store is), so the stats code is tested before it is
 * wired into berth's RuntimeService. Part 2 asks the same of berth over gRPC; it skips itself
 * while berth still answers UNIMPLEMENTED for the stats RPCs.
 */

const log = pino({ level: process.env.BERTH_TEST_LOG ?? "silent" });
const ctx = (): CallContext => ({
  signal: AbortSignal.timeout(30_000),
  deadline: undefined,
  log,
});
const MiB = 1024n * 1024n;

let env: ContainerEnv;
let store: StateStore;
let sync: DockerSync;
let collector: StatsCollector;
let handlers: ReturnType<typeof statsRpcs>;
let dataRoot: string;
let cgroupDriver: string;
let pod: Pod;
let podCgroupParent: string;
let burner: Container & { pid: number };
let holder: Container & { pid: number };
let writer: Container & { pid: number };
let finished: Container;
let hostPod: Pod;
let hostSleeper: Container & { pid: number };

// ---- the kernel's numbers, read independently of berth's cgroup code ---------------------

const CGROUP_V2 = (() => {
  try {
    return readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8") !== "";
  } catch {
    return false;
  }
})();

/** A process's cgroup directory for a v1 controller (or the unified one on v2). */
function cgroupDir(pid: number, controller: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  if (CGROUP_V2) return `/sys/fs/cgroup${lines.find((l) => l.startsWith("0::"))?.slice(3)}`;
  const line = lines.find((l) => l.split(":")[1]?.split(",").includes(controller));
  assert.ok(line, `pid ${pid} has a ${controller} cgroup`);
  const mount = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .find(
      (l) =>
        / - cgroup /.test(l) && l.split(" - ")[1]?.split(" ")[2]?.split(",").includes(controller),
    );
  assert.ok(mount, `the ${controller} hierarchy is mounted`);
  return `${mount.split(" ")[4]}${line.split(":")[2]}`;
}

const readNumber = (path: string) => BigInt(readFileSync(path, "utf8").trim());
const statField = (path: string, key: string) => {
  const line = readFileSync(path, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${key} `));
  return BigInt(line?.split(" ")[1] ?? "0");
};

function kernelCpuNs(pid: number): bigint {
  if (CGROUP_V2) return statField(`${cgroupDir(pid, "cpu")}/cpu.stat`, "usage_usec") * 1000n;
  return readNumber(`${cgroupDir(pid, "cpuacct")}/cpuacct.usage`);
}

function kernelMemory(pid: number): { usage: bigint; workingSet: bigint; rss: bigint } {
  const dir = cgroupDir(pid, "memory");
  if (CGROUP_V2) {
    const usage = readNumber(`${dir}/memory.current`);
    const inactive = statField(`${dir}/memory.stat`, "inactive_file");
    return { usage, workingSet: usage - inactive, rss: statField(`${dir}/memory.stat`, "anon") };
  }
  const usage = readNumber(`${dir}/memory.usage_in_bytes`);
  const inactive = statField(`${dir}/memory.stat`, "total_inactive_file");
  return {
    usage,
    workingSet: usage > inactive ? usage - inactive : 0n,
    rss: statField(`${dir}/memory.stat`, "total_rss"),
  };
}

const kernelPids = (pid: number) => readNumber(`${cgroupDir(pid, "pids")}/pids.current`);

function kernelRxBytes(pausePid: number): bigint {
  const line = readFileSync(`/proc/${pausePid}/net/dev`, "utf8")
    .split("\n")
    .find((l) => l.trim().startsWith("eth0:"));
  assert.ok(line, "the pod has eth0");
  return BigInt(line.split(":")[1]?.trim().split(/\s+/)[0] ?? "0");
}

const near = (actual: bigint, expected: bigint, tolerance: bigint, what: string) =>
  assert.ok(
    actual >= expected - tolerance && actual <= expected + tolerance,
    `${what}: ${actual} not within ${tolerance} of ${expected}`,
  );

async function podIp(id: string): Promise<string> {
  const { status: sandbox } = await env.berth.client.runtime.podSandboxStatus({ podSandboxId: id });
  assert.ok(sandbox?.network?.ip, "the pod has an IP");
  return sandbox.network.ip;
}

/** UDP datagrams to the pod: they arrive on its eth0 whether or not anything listens. */
async function sendTraffic(ip: string, datagrams: number, size: number): Promise<void> {
  const socket = createSocket("udp4");
  const payload = Buffer.alloc(size, 7);
  try {
    for (let i = 0; i < datagrams; i++) {
      await new Promise<void>((resolve, reject) =>
        socket.send(payload, 9, ip, (err) => (err ? reject(err) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

before(async () => {
  env = await startContainerEnv();
  const info = await env.docker.info();
  dataRoot = info.DockerRootDir;
  cgroupDriver = info.CgroupDriver;
  podCgroupParent = `/berth-e2e-stats/pod${randomUUID()}`;
  pod = await runPod(env, "stats", {
    linux: {
      cgroupParent: podCgroupParent,
      securityContext: { namespaceOptions: { network: NamespaceMode.POD } },
    },
  });
  // Not to stdout: the CRI log would take the CPU instead.
  burner = await runContainer(
    env,
    pod,
    containerConfig("burner", { command: ["sh", "-c", "yes > /dev/null"] }),
  );
  holder = await runContainer(
    env,
    pod,
    containerConfig("holder", {
      command: ["sh", "-c", "dd if=/dev/zero bs=48M count=1 | sleep 3600"],
    }),
  );
  writer = await runContainer(
    env,
    pod,
    containerConfig("writer", {
      command: ["sh", "-c", "head -c 8388608 /dev/urandom > /layer-data; sleep 3600"],
    }),
  );
  finished = await createContainer(env, pod, containerConfig("finished", { command: ["true"] }));
  await env.berth.client.runtime.startContainer({ containerId: finished.id });
  await waitForState(env, finished.id, ContainerState.CONTAINER_EXITED);
  hostPod = await runPod(env, "stats-host", { hostNetwork: true });
  hostSleeper = await runContainer(
    env,
    hostPod,
    containerConfig("sleeper", {
      linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
    }),
  );

  // berth's store, rebuilt in this process from the engine as berth rebuilds its own.
  store = new StateStore();
  sync = new DockerSync(
    env.docker,
    store,
    new SandboxCheckpoints(env.berth.rootDir, log),
    instanceOf(env.berth.rootDir),
    log,
  );
  await sync.rebuild();
  sync.start();
  collector = new StatsCollector({
    store,
    log,
    upperDirOf: dockerUpperDirs(env.docker),
    dataRoot: async () => (await env.docker.info()).DockerRootDir,
    sampleIntervalMs: 1_000,
  });
  collector.start();
  handlers = statsRpcs({ store, stats: collector });
  // Let the holder's dd fill its buffer and the burner run for a while.
  await sleep(1_500);
});

after(async () => {
  await collector?.stop();
  await sync?.stop();
  await env?.close();
  // The kubelet would remove the pod cgroup it made; here the test made it (through Docker).
  removeCgroupDirs([podCgroupParent, "/berth-e2e-stats"]);
});

function removeCgroupDirs(paths: string[]): void {
  const roots = CGROUP_V2
    ? ["/sys/fs/cgroup"]
    : readdirSync("/sys/fs/cgroup").map((name) => `/sys/fs/cgroup/${name}`);
  for (const root of roots) {
    for (const path of paths) {
      try {
        rmdirSync(`${root}${path}`);
      } catch {
        // not there, or not empty yet
      }
    }
  }
}

/** ContainerStats through the in-process handler. */
async function statsOf(id: string) {
  const { stats } = await handlers.containerStats({ containerId: id } as never, ctx());
  assert.ok(stats, "ContainerStats answers stats");
  return stats;
}

describe("stats handlers over the real engine and cgroups", () => {
  test("CPU: cumulative usage follows the cgroup, a busy container uses about a core", async () => {
    const first = await statsOf(burner.id);
    const kernel = kernelCpuNs(burner.pid);
    const reported = first.cpu?.usageCoreNanoSeconds?.value ?? 0n;
    assert.ok(reported > 0n);
    // Read just after: the kernel's counter is ahead by the time in between, not more.
    assert.ok(reported <= kernel, `${reported} <= ${kernel}`);
    near(reported, kernel, 200_000_000n, "cumulative CPU vs cgroup");

    await sleep(2_000);
    const second = await statsOf(burner.id);
    const later = second.cpu?.usageCoreNanoSeconds?.value ?? 0n;
    assert.ok(later > reported, "cumulative usage grows");
    const nanoCores = Number(second.cpu?.usageNanoCores?.value ?? 0n);
    // `yes` keeps one of the two cores busy; other work on the machine may slow it a little.
    assert.ok(nanoCores > 0.6e9 && nanoCores < 1.15e9, `usage_nano_cores ${nanoCores}`);
    // The rate is the counter's: delta usage / delta time.
    const seconds = Number((second.cpu?.timestamp ?? 0n) - (first.cpu?.timestamp ?? 0n)) / 1e9;
    const manual = Number(later - reported) / seconds;
    assert.ok(Math.abs(nanoCores - manual) < 0.35e9, `${nanoCores} vs ${manual} between calls`);
  });

  test("memory: working set, usage and RSS of 48 MiB held by dd match the cgroup", async () => {
    const stats = await statsOf(holder.id);
    const kernel = kernelMemory(holder.pid);
    const workingSet = stats.memory?.workingSetBytes?.value ?? 0n;
    assert.ok(workingSet >= 48n * MiB, `working set ${workingSet}`);
    near(workingSet, kernel.workingSet, 2n * MiB, "working set vs cgroup");
    near(stats.memory?.usageBytes?.value ?? 0n, kernel.usage, 2n * MiB, "usage vs cgroup");
    near(stats.memory?.rssBytes?.value ?? 0n, kernel.rss, 2n * MiB, "rss vs cgroup");
    assert.ok((stats.memory?.pageFaults?.value ?? 0n) > 48n * 256n, "faulted in 48 MiB of pages");
    assert.equal(stats.memory?.availableBytes, undefined, "no limit, nothing available to report");
  });

  test("writable layer: the background measurement sees the 8 MiB written, on the data root", async () => {
    const layer = await collector.measureLayer(writer.id);
    assert.ok(layer, "measured");
    assert.ok(layer.usedBytes >= 8n * MiB, `${layer.usedBytes}`);
    assert.ok(layer.usedBytes < 9n * MiB, `${layer.usedBytes}`);
    const stats = await statsOf(writer.id);
    assert.equal(stats.writableLayer?.fsId?.mountpoint, dataRoot);
    assert.equal(stats.writableLayer?.usedBytes?.value, layer.usedBytes);
    assert.ok((stats.writableLayer?.inodesUsed?.value ?? 0n) >= 2n);
  });

  test("an exited container: listed with its attributes, no CPU or memory", async () => {
    const { stats = [] } = await handlers.listContainerStats(
      create(ListContainerStatsRequestSchema, {
        filter: create(ContainerStatsFilterSchema, { podSandboxId: pod.id }),
      }),
      ctx(),
    );
    const byId = new Map(stats.map((s) => [s.attributes?.id, s]));
    assert.deepEqual(
      [...byId.keys()].sort(),
      [burner.id, holder.id, writer.id, finished.id].sort(),
    );
    const exited = byId.get(finished.id);
    assert.equal(exited?.attributes?.metadata?.name, "finished");
    assert.equal(exited?.cpu, undefined);
    assert.equal(exited?.memory, undefined);
    assert.equal(exited?.writableLayer?.fsId?.mountpoint, dataRoot);
  });

  test("an unknown container or pod is NOT_FOUND", async () => {
    await assert.rejects(
      handlers.containerStats({ containerId: "f".repeat(64) } as never, ctx()),
      (err) => isErrorKind(err, "NotFound"),
    );
    await assert.rejects(
      handlers.podSandboxStats({ podSandboxId: "f".repeat(64) } as never, ctx()),
      (err) => isErrorKind(err, "NotFound"),
    );
  });

  test("pod: the pod cgroup's totals, process count, network counters after traffic", async () => {
    const ip = await podIp(pod.id);
    const get = async () => {
      const { stats } = await handlers.podSandboxStats({ podSandboxId: pod.id } as never, ctx());
      assert.ok(stats?.linux);
      return stats.linux;
    };
    const before = await get();
    await sendTraffic(ip, 200, 1000);
    await sleep(200);
    const after = await get();

    const rxBefore = before.network?.defaultInterface?.rxBytes?.value ?? 0n;
    const rxAfter = after.network?.defaultInterface?.rxBytes?.value ?? 0n;
    assert.equal(after.network?.defaultInterface?.name, "eth0");
    assert.ok(rxAfter - rxBefore >= 200_000n, `rx grew by ${rxAfter - rxBefore}`);
    near(rxAfter, kernelRxBytes(pod.pid), 10_000n, "rx bytes vs the pod's /proc/net/dev");
    assert.ok(!after.network?.interfaces?.some((i) => i.name === "lo"), "no loopback");

    // Processes: the sum of the containers' pids.current (sh, yes; sh, dd, sleep; sh, sleep).
    const expectedPids = kernelPids(burner.pid) + kernelPids(holder.pid) + kernelPids(writer.pid);
    assert.equal(after.process?.processCount?.value, expectedPids);

    // The pod cgroup holds every container: at least the holder's memory and burner's CPU.
    const podMemory = after.memory?.workingSetBytes?.value ?? 0n;
    assert.ok(podMemory >= 48n * MiB, `pod working set ${podMemory}`);
    const podCpu = after.cpu?.usageCoreNanoSeconds?.value ?? 0n;
    const burnerCpu = kernelCpuNs(burner.pid);
    assert.ok(podCpu >= burnerCpu - 500_000_000n, `pod CPU ${podCpu} vs burner ${burnerCpu}`);
    if (cgroupDriver === "cgroupfs") {
      // The pause container sits in the pod cgroup the kubelet would have made.
      const podDir = cgroupDir(pod.pid, "memory").replace(/\/[0-9a-f]{64}$/, "");
      assert.ok(podDir.endsWith(podCgroupParent), `${podDir} is the pod cgroup`);
    }

    const ids = (after.containers ?? []).map((c) => c.attributes?.id).sort();
    assert.deepEqual(ids, [burner.id, holder.id, writer.id, finished.id].sort());
  });

  test("a host-network pod has no network stats; its CPU sums its containers", async () => {
    const { stats } = await handlers.podSandboxStats({ podSandboxId: hostPod.id } as never, ctx());
    assert.equal(stats?.linux?.network, undefined);
    assert.ok((stats?.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n);
    assert.equal(stats?.linux?.process?.processCount?.value, kernelPids(hostSleeper.pid));
  });

  test("ListPodSandboxStats filters by id and label", async () => {
    const list = async (filter: object) =>
      (
        (
          await handlers.listPodSandboxStats(
            create(ListPodSandboxStatsRequestSchema, {
              filter: create(PodSandboxStatsFilterSchema, filter),
            }),
            ctx(),
          )
        ).stats ?? []
      ).map((s) => s.attributes?.id);
    assert.deepEqual(await list({ id: pod.id }), [pod.id]);
    assert.deepEqual(await list({ labelSelector: { app: "stats-host" } }), [hostPod.id]);
  });

  test("metrics: cAdvisor names with descriptors, values from the same cgroups", async () => {
    const { descriptors = [] } = await handlers.listMetricDescriptors({} as never, ctx());
    const keys = new Map(descriptors.map((d) => [d.name, d.labelKeys ?? []]));
    const { podMetrics = [] } = await handlers.listPodSandboxMetrics({} as never, ctx());
    const ours = podMetrics.find((p) => p.podSandboxId === pod.id);
    assert.ok(ours, "our pod has metrics");
    for (const metric of [
      ...(ours.metrics ?? []),
      ...(ours.containerMetrics ?? []).flatMap((c) => c.metrics ?? []),
    ]) {
      assert.equal(metric.labelValues?.length, keys.get(metric.name ?? "")?.length, metric.name);
    }
    const of = (id: string, name: string) =>
      ours.containerMetrics
        ?.find((c) => c.containerId === id)
        ?.metrics?.find((m) => m.name === name);
    const cpu = of(burner.id, "container_cpu_usage_seconds_total");
    assert.equal(cpu?.metricType, MetricType.COUNTER);
    assert.equal(cpu?.labelValues?.[2], "burner");
    // Whole seconds of a container burning a core, from a sample up to a second old (one
    // sample answers the stats calls of the next second): the kernel's count read now is at
    // most two whole seconds ahead of it. The holder next to it, idle, is near 0.
    const kernelSeconds = kernelCpuNs(burner.pid) / 1_000_000_000n;
    const seconds = cpu?.value?.value ?? -1n;
    assert.ok(
      seconds <= kernelSeconds && seconds >= kernelSeconds - 2n && seconds > 0n,
      `${seconds} s against the kernel's ${kernelSeconds} s`,
    );
    const ws = of(holder.id, "container_memory_working_set_bytes");
    assert.equal(ws?.metricType, MetricType.GAUGE);
    near(ws?.value?.value ?? 0n, kernelMemory(holder.pid).workingSet, 2n * MiB, "working set");
    assert.equal(of(holder.id, "container_processes")?.value?.value, kernelPids(holder.pid));
    const rx = ours.metrics?.find((m) => m.name === "container_network_receive_bytes_total");
    assert.deepEqual(rx?.labelValues?.slice(2), ["", pod.id, "", "eth0"]);
    // The exited container has no series.
    assert.equal(
      ours.containerMetrics?.some((c) => c.containerId === finished.id),
      false,
    );
  });

  test("ListContainerStats of every container on the engine answers quickly", async () => {
    const started = performance.now();
    await handlers.listContainerStats(create(ListContainerStatsRequestSchema, {}), ctx());
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `${elapsed} ms`);
  });
});

// ---- part 2: the same through berth's socket, once the RPCs are wired -------------------

let wired: boolean | undefined;

async function requireWired(t: TestContext): Promise<boolean> {
  if (wired === undefined) {
    try {
      await env.berth.client.runtime.listMetricDescriptors({});
      wired = true;
    } catch (err) {
      if ((err as { code?: number }).code !== status.UNIMPLEMENTED) throw err;
      wired = false;
    }
  }
  if (!wired) t.skip("berth does not serve the stats RPCs yet (runtime-service.ts)");
  return wired;
}

describe("stats over berth's gRPC socket", () => {
  test("ContainerStats: CPU and memory match the cgroups; unknown ids are NOT_FOUND", async (t) => {
    if (!(await requireWired(t))) return;
    const rpc = env.berth.client.runtime;
    const first = (await rpc.containerStats({ containerId: burner.id })).stats;
    await sleep(1_500);
    const second = (await rpc.containerStats({ containerId: burner.id })).stats;
    const nanoCores = Number(second?.cpu?.usageNanoCores?.value ?? 0n);
    assert.ok(nanoCores > 0.6e9 && nanoCores < 1.15e9, `usage_nano_cores ${nanoCores}`);
    assert.ok(
      (second?.cpu?.usageCoreNanoSeconds?.value ?? 0n) >
        (first?.cpu?.usageCoreNanoSeconds?.value ?? 0n),
    );
    const memory = (await rpc.containerStats({ containerId: holder.id })).stats?.memory;
    near(
      memory?.workingSetBytes?.value ?? 0n,
      kernelMemory(holder.pid).workingSet,
      2n * MiB,
      "working set",
    );
    await expectCode(rpc.containerStats({ containerId: "f".repeat(64) }), status.NOT_FOUND);
    await expectCode(rpc.podSandboxStats({ podSandboxId: "f".repeat(64) }), status.NOT_FOUND);
  });

  test("ListContainerStats and ListPodSandboxStats by pod", async (t) => {
    if (!(await requireWired(t))) return;
    const rpc = env.berth.client.runtime;
    const { stats } = await rpc.listContainerStats({ filter: { podSandboxId: pod.id } });
    const ids = stats.map((s: CriContainerStats) => s.attributes?.id).sort();
    assert.deepEqual(ids, [burner.id, holder.id, writer.id, finished.id].sort());
    const pods = (await rpc.listPodSandboxStats({ filter: { id: pod.id } })).stats;
    assert.equal(pods.length, 1);
    const linux = pods[0]?.linux;
    assert.equal(linux?.network?.defaultInterface?.name, "eth0");
    assert.ok((linux?.memory?.workingSetBytes?.value ?? 0n) >= 48n * MiB);
    const expectedPids = kernelPids(burner.pid) + kernelPids(holder.pid) + kernelPids(writer.pid);
    assert.equal(linux?.process?.processCount?.value, expectedPids);
    assert.equal(linux?.containers.length, 4);
  });

  test("ListMetricDescriptors and ListPodSandboxMetrics", async (t) => {
    if (!(await requireWired(t))) return;
    const rpc = env.berth.client.runtime;
    const { descriptors } = await rpc.listMetricDescriptors({});
    const names = new Set(descriptors.map((d) => d.name));
    for (const name of [
      "container_cpu_usage_seconds_total",
      "container_memory_working_set_bytes",
      "container_memory_usage_bytes",
      "container_memory_rss",
      "container_network_receive_bytes_total",
      "container_network_transmit_bytes_total",
    ]) {
      assert.ok(names.has(name), name);
    }
    const { podMetrics } = await rpc.listPodSandboxMetrics({});
    const ours = podMetrics.find((p) => p.podSandboxId === pod.id);
    const burnerMetrics = ours?.containerMetrics.find((c) => c.containerId === burner.id);
    const cpu = burnerMetrics?.metrics.find((m) => m.name === "container_cpu_usage_seconds_total");
    assert.ok((cpu?.value?.value ?? 0n) >= 1n, "the burner used at least a CPU-second");
  });
});
