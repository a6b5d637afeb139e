import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { statsRpcs } from "../../../test/support/stats-rpcs.ts";
import { runningProcess } from "../../../test/support/store-records.ts";
import { isErrorKind } from "../../errors.ts";
import {
  ContainerConfigSchema,
  ContainerStatsFilterSchema,
  ListContainerStatsRequestSchema,
  ListPodSandboxStatsRequestSchema,
  MetricType,
  NamespaceMode,
  PodSandboxConfigSchema,
  PodSandboxStatsFilterSchema,
} from "../../gen/runtime/v1/api_pb.js";
import type { CallContext } from "../../server/call-context.ts";
import { parseMountinfo } from "../../stats/cgroup-paths.ts";
import { DESCRIPTORS } from "../../stats/metrics.ts";
import { StatsCollector } from "../../stats/stats-collector.ts";
import type { ContainerRecord, ProcessState, SandboxRecord } from "../../store/records.ts";
import { StateStore } from "../../store/state-store.ts";

/**
 * The handlers over a fake host: a cgroup v1 tree and a procfs in a temporary directory, a
 * store filled by hand. The real kernel files are exercised by test/e2e/stats.test.ts.
 */

const log = pino({ level: "silent" });
const ctx: CallContext = { signal: new AbortController().signal, deadline: undefined, log };
const hex = (c: string) => c.repeat(64);
const POD = hex("a"); // sandbox with a pod cgroup
const APP = hex("b");
const SIDE = hex("c"); // exited
const HOSTPOD = hex("d"); // host network, no cgroup parent
const HOSTAPP = hex("e");
const PARENT = "/kubepods/burstable/pod1";

let root: string;
let mountinfo: string;
let store: StateStore;
let collector: StatsCollector;
let handlers: ReturnType<typeof statsRpcs>;

const running = runningProcess;
const exited: ProcessState = { ...running(0), status: "exited", pid: 0 };

function sandbox(id: string, pid: number, options: { parent?: string; host?: boolean }) {
  const record: SandboxRecord = {
    id,
    name: `k8s_POD_${id.slice(0, 4)}`,
    config: create(PodSandboxConfigSchema, {
      metadata: { name: `pod-${id[0]}`, namespace: "ns", uid: `uid-${id[0]}` },
      labels: { app: id[0] as string },
      linux: {
        cgroupParent: options.parent ?? "",
        securityContext: {
          namespaceOptions: { network: options.host ? NamespaceMode.NODE : NamespaceMode.POD },
        },
      },
    }),
    runtimeHandler: "",
    createdAt: 0n,
    process: running(pid),
    network: undefined,
  };
  return record;
}

function container(id: string, sandboxId: string, process: ProcessState): ContainerRecord {
  return {
    id,
    name: `k8s_${id[0]}`,
    sandboxId,
    config: create(ContainerConfigSchema, {
      metadata: { name: `ctr-${id[0]}` },
      image: { image: "busybox:1.0", userSpecifiedImage: "busybox:1.0" },
      labels: { tier: id === APP ? "app" : "other" },
    }),
    createdAt: 0n,
    imageId: "sha256:1",
    userImage: "busybox:1.0",
    logPath: "",
    process,
    applied: {
      cpuPeriod: 100000,
      cpuQuota: 50000,
      cpuShares: 512,
      cpusetCpus: "",
      cpusetMems: "",
      memory: 268435456,
      memorySwap: 268435456,
      oomScoreAdj: 0,
      user: "",
      groupAdd: [],
      stopSignal: "",
      tty: false,
      openStdin: false,
    },
  };
}

async function write(path: string, content: string): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content);
}

/** A v1 cgroup at `path` (under every controller) with the given CPU and memory values. */
async function cgroup(path: string, cpuNs: bigint, memory: bigint, pids: number): Promise<void> {
  const base = join(root, "cgroup");
  await write(join(base, "cpuacct", path, "cpuacct.usage"), `${cpuNs}\n`);
  await write(join(base, "memory", path, "memory.usage_in_bytes"), `${memory}\n`);
  await write(join(base, "memory", path, "memory.limit_in_bytes"), "268435456\n");
  await write(
    join(base, "memory", path, "memory.stat"),
    `total_rss ${memory / 2n}\ntotal_inactive_file 4096\ntotal_pgfault 10\ntotal_pgmajfault 1\n`,
  );
  await write(join(base, "pids", path, "pids.current"), `${pids}\n`);
}

async function proc(pid: number, cgroupPath: string, netDev?: string): Promise<void> {
  const lines = ["cpu", "cpuacct", "memory", "pids"].map(
    (controller, i) => `${i + 1}:${controller}:${cgroupPath}`,
  );
  await write(join(root, "proc", String(pid), "cgroup"), `${lines.join("\n")}\n`);
  if (netDev) await write(join(root, "proc", String(pid), "net", "dev"), netDev);
}

const NET_DEV = `Inter-|   Receive |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0
  eth0: 5000 50 1 2 0 0 0 0 7000 70 3 4 0 0 0 0
`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-stats-handlers-"));
  mountinfo = ["cpu", "cpuacct", "memory", "pids"]
    .map(
      (c, i) => `${30 + i} 1 0:${30 + i} / ${join(root, "cgroup", c)} rw - cgroup cgroup rw,${c}`,
    )
    .join("\n");
  // The pod with a pod cgroup: pause (pid 100) and app (pid 101) under PARENT.
  await cgroup(PARENT, 3_000_000_000n, 10_000_000n, 3);
  await cgroup(`${PARENT}/${POD}`, 1_000_000n, 500_000n, 1);
  await cgroup(`${PARENT}/${APP}`, 2_000_000_000n, 8_000_000n, 2);
  await proc(100, `${PARENT}/${POD}`, NET_DEV);
  await proc(101, `${PARENT}/${APP}`);
  // The host-network pod without a cgroup parent: under /docker.
  await cgroup(`/docker/${HOSTPOD}`, 1_000_000n, 400_000n, 1);
  await cgroup(`/docker/${HOSTAPP}`, 4_000_000_000n, 2_000_000n, 5);
  await proc(200, `/docker/${HOSTPOD}`, NET_DEV);
  await proc(201, `/docker/${HOSTAPP}`);

  store = new StateStore();
  store.upsert({ kind: "sandbox", record: sandbox(POD, 100, { parent: PARENT }) });
  store.upsert({ kind: "container", record: container(APP, POD, running(101)) });
  store.upsert({ kind: "container", record: container(SIDE, POD, exited) });
  store.upsert({ kind: "sandbox", record: sandbox(HOSTPOD, 200, { host: true }) });
  store.upsert({ kind: "container", record: container(HOSTAPP, HOSTPOD, running(201)) });

  collector = new StatsCollector({
    store,
    log,
    upperDirOf: async () => undefined,
    dataRoot: async () => "/var/lib/docker",
    mounts: parseMountinfo(mountinfo),
    procRoot: join(root, "proc"),
    sampleIntervalMs: 0,
    // These tests rewrite cgroup files between calls: every call reads them (reuse is below).
    sampleReuseMs: 0,
  });
  handlers = statsRpcs({ store, stats: collector });
});

after(async () => {
  await collector.stop();
  await rm(root, { recursive: true, force: true });
});

describe("ContainerStats", () => {
  test("a running container: CPU, memory and the writable layer's filesystem", async () => {
    const { stats } = await handlers.containerStats({ containerId: APP } as never, ctx);
    assert.equal(stats?.attributes?.id, APP);
    assert.equal(stats?.attributes?.metadata?.name, "ctr-b");
    assert.equal(stats?.cpu?.usageCoreNanoSeconds?.value, 2_000_000_000n);
    assert.equal(stats?.memory?.usageBytes?.value, 8_000_000n);
    assert.equal(stats?.memory?.workingSetBytes?.value, 8_000_000n - 4096n);
    assert.equal(stats?.memory?.availableBytes?.value, 268435456n - (8_000_000n - 4096n));
    assert.equal(stats?.memory?.rssBytes?.value, 4_000_000n);
    assert.equal(stats?.memory?.pageFaults?.value, 10n);
    assert.equal(stats?.memory?.majorPageFaults?.value, 1n);
    assert.equal(stats?.writableLayer?.fsId?.mountpoint, "/var/lib/docker");
    assert.equal(stats?.writableLayer?.usedBytes, undefined, "not measured yet");
  });

  test("a shortened id is found, as elsewhere in berth", async () => {
    const { stats } = await handlers.containerStats(
      { containerId: APP.slice(0, 12) } as never,
      ctx,
    );
    assert.equal(stats?.attributes?.id, APP);
  });

  test("an exited container: attributes and writable layer, no CPU or memory", async () => {
    const { stats } = await handlers.containerStats({ containerId: SIDE } as never, ctx);
    assert.equal(stats?.attributes?.id, SIDE);
    assert.equal(stats?.cpu, undefined);
    assert.equal(stats?.memory, undefined);
    assert.ok(stats?.writableLayer);
  });

  test("an unknown id is NOT_FOUND", async () => {
    await assert.rejects(handlers.containerStats({ containerId: hex("f") } as never, ctx), (err) =>
      isErrorKind(err, "NotFound"),
    );
  });
});

describe("ListContainerStats", () => {
  const list = async (filter?: object) =>
    (
      await handlers.listContainerStats(
        create(ListContainerStatsRequestSchema, {
          filter: filter && create(ContainerStatsFilterSchema, filter),
        }),
        ctx,
      )
    ).stats ?? [];
  const ids = (stats: Awaited<ReturnType<typeof list>>) =>
    stats.map((s) => s.attributes?.id).sort();

  test("everything without a filter", async () => {
    assert.deepEqual(ids(await list()), [APP, SIDE, HOSTAPP].sort());
  });

  test("by id, by pod, by labels", async () => {
    assert.deepEqual(ids(await list({ id: APP })), [APP]);
    assert.deepEqual(ids(await list({ podSandboxId: POD })), [APP, SIDE].sort());
    assert.deepEqual(ids(await list({ podSandboxId: POD, labelSelector: { tier: "app" } })), [APP]);
    assert.deepEqual(ids(await list({ labelSelector: { tier: "other" } })), [SIDE, HOSTAPP].sort());
    assert.deepEqual(ids(await list({ id: hex("f") })), []);
    assert.deepEqual(ids(await list({ podSandboxId: hex("f") })), []);
  });
});

describe("PodSandboxStats", () => {
  test("a pod cgroup: the pod's totals, its network, processes of its containers", async () => {
    const { stats } = await handlers.podSandboxStats({ podSandboxId: POD } as never, ctx);
    const linux = stats?.linux;
    assert.equal(stats?.attributes?.id, POD);
    assert.equal(stats?.attributes?.metadata?.name, "pod-a");
    assert.equal(linux?.cpu?.usageCoreNanoSeconds?.value, 3_000_000_000n, "the pod cgroup");
    assert.equal(linux?.memory?.usageBytes?.value, 10_000_000n);
    assert.equal(linux?.network?.defaultInterface?.name, "eth0");
    assert.equal(linux?.network?.defaultInterface?.rxBytes?.value, 5000n);
    assert.equal(linux?.network?.defaultInterface?.txErrors?.value, 3n);
    assert.deepEqual(
      linux?.network?.interfaces?.map((i) => i.name),
      ["eth0"],
    );
    assert.equal(linux?.process?.processCount?.value, 2n, "the app's pids, not the pause's");
    assert.deepEqual(linux?.containers?.map((c) => c.attributes?.id).sort(), [APP, SIDE].sort());
  });

  test("no pod cgroup, host network: the sum of containers and pause, no network", async () => {
    const { stats } = await handlers.podSandboxStats({ podSandboxId: HOSTPOD } as never, ctx);
    const linux = stats?.linux;
    assert.equal(linux?.cpu?.usageCoreNanoSeconds?.value, 4_001_000_000n);
    assert.equal(linux?.memory?.usageBytes?.value, 2_400_000n);
    assert.equal(linux?.memory?.availableBytes, undefined, "a sum has no limit");
    assert.equal(linux?.network, undefined);
    assert.equal(linux?.process?.processCount?.value, 5n);
  });

  test("an unknown id is NOT_FOUND", async () => {
    await assert.rejects(
      handlers.podSandboxStats({ podSandboxId: hex("f") } as never, ctx),
      (err) => isErrorKind(err, "NotFound"),
    );
  });

  test("ListPodSandboxStats filters by id and labels", async () => {
    const list = async (filter?: object) =>
      (
        (
          await handlers.listPodSandboxStats(
            create(ListPodSandboxStatsRequestSchema, {
              filter: filter && create(PodSandboxStatsFilterSchema, filter),
            }),
            ctx,
          )
        ).stats ?? []
      )
        .map((s) => s.attributes?.id)
        .sort();
    assert.deepEqual(await list(), [POD, HOSTPOD].sort());
    assert.deepEqual(await list({ id: POD }), [POD]);
    assert.deepEqual(await list({ labelSelector: { app: "d" } }), [HOSTPOD]);
    assert.deepEqual(await list({ id: hex("f") }), []);
  });
});

describe("metrics", () => {
  test("every metric has a descriptor and as many label values as its keys", async () => {
    const { descriptors = [] } = await handlers.listMetricDescriptors({} as never, ctx);
    const byName = new Map(descriptors.map((d) => [d.name, d]));
    assert.equal(byName.size, descriptors.length, "names are unique");
    const { podMetrics = [] } = await handlers.listPodSandboxMetrics({} as never, ctx);
    assert.deepEqual(podMetrics.map((p) => p.podSandboxId).sort(), [POD, HOSTPOD].sort());
    const all = podMetrics.flatMap((p) => [
      ...(p.metrics ?? []),
      ...(p.containerMetrics ?? []).flatMap((c) => c.metrics ?? []),
    ]);
    assert.ok(all.length > 40);
    for (const metric of all) {
      const descriptor = byName.get(metric.name ?? "");
      assert.ok(descriptor, `${metric.name} has a descriptor`);
      assert.equal(metric.labelValues?.length, descriptor.labelKeys?.length, `${metric.name}`);
      const type = DESCRIPTORS.find((d) => d.name === metric.name)?.type;
      assert.equal(metric.metricType, type);
    }
  });

  test("container series: labels, seconds, spec values; pod series: network and pod cgroup", async () => {
    const { podMetrics = [] } = await handlers.listPodSandboxMetrics({} as never, ctx);
    const pod = podMetrics.find((p) => p.podSandboxId === POD);
    const app = pod?.containerMetrics?.find((c) => c.containerId === APP)?.metrics ?? [];
    const value = (name: string, list = app) => list.find((m) => m.name === name)?.value?.value;
    const cpu = app.find((m) => m.name === "container_cpu_usage_seconds_total");
    assert.deepEqual(cpu?.labelValues, ["pod-a", "ns", "ctr-b", APP, "busybox:1.0"]);
    assert.equal(cpu?.metricType, MetricType.COUNTER);
    assert.equal(cpu?.value?.value, 2n, "whole seconds");
    assert.equal(value("container_memory_working_set_bytes"), 8_000_000n - 4096n);
    assert.equal(value("container_processes"), 2n);
    assert.equal(value("container_spec_cpu_quota"), 50000n);
    assert.equal(value("container_spec_cpu_shares"), 512n);
    assert.equal(value("container_spec_memory_limit_bytes"), 268435456n);
    assert.equal(value("container_start_time_seconds"), 1_700_000_000n);
    // The exited container has no series.
    assert.equal(pod?.containerMetrics?.length, 1);

    const podLevel = pod?.metrics ?? [];
    const rx = podLevel.find((m) => m.name === "container_network_receive_bytes_total");
    assert.deepEqual(rx?.labelValues, ["pod-a", "ns", "", POD, "", "eth0"]);
    assert.equal(rx?.value?.value, 5000n);
    assert.equal(value("container_cpu_usage_seconds_total", podLevel), 3n, "the pod cgroup");

    // The host-network pod without a pod cgroup has no pod-level series at all.
    assert.deepEqual(podMetrics.find((p) => p.podSandboxId === HOSTPOD)?.metrics, []);
  });
});

describe("CPU rate and cleanup", () => {
  test("usage_nano_cores from two samples at least a second apart", async () => {
    const path = join(root, "cgroup", "cpuacct", PARENT, APP, "cpuacct.usage");
    await writeFile(path, "10000000000\n");
    await handlers.containerStats({ containerId: APP } as never, ctx);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await writeFile(path, "11100000000\n"); // +1.1 CPU-s in ~1.1 s
    const { stats } = await handlers.containerStats({ containerId: APP } as never, ctx);
    const nano = Number(stats?.cpu?.usageNanoCores?.value);
    assert.ok(nano > 0.9e9 && nano <= 1.0e9, `${nano}`);
  });

  test("a removed container's handles are closed", async () => {
    const before = collector.sizes.handles;
    assert.ok(before > 0);
    store.delete(HOSTAPP);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(collector.sizes.handles < before, `${collector.sizes.handles} < ${before}`);
  });
});

describe("background work", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const sampler = (sampleMaxAgeMs: number) =>
    new StatsCollector({
      store,
      log,
      upperDirOf: async () => undefined,
      dataRoot: async () => "/var/lib/docker",
      mounts: parseMountinfo(mountinfo),
      procRoot: join(root, "proc"),
      sampleIntervalMs: 10,
      sampleMaxAgeMs,
      sampleReuseMs: 0,
    });

  test("the CPU sampler reads only cgroups whose newest sample is older than its age", async () => {
    const fresh = sampler(60_000);
    fresh.start();
    try {
      for (let i = 0; i < 200 && fresh.sizes.series < 3; i++) await sleep(5);
      assert.equal(fresh.sizes.series, 3, "every running container and pod got a base");
      const reads = fresh.sizes.reads;
      await sleep(100);
      assert.equal(fresh.sizes.reads, reads, "nothing read again while the bases are fresh");
    } finally {
      await fresh.stop();
    }
    const ageless = sampler(0);
    ageless.start();
    try {
      for (let i = 0; i < 200 && ageless.sizes.series < 3; i++) await sleep(5);
      const reads = ageless.sizes.reads;
      await sleep(100);
      assert.ok(ageless.sizes.reads > reads, "stale bases are sampled again on every tick");
    } finally {
      await ageless.stop();
    }
  });
});

describe("sample reuse", () => {
  const usageFile = () => join(root, "cgroup", "cpuacct", PARENT, APP, "cpuacct.usage");
  const collectorWith = (sampleReuseMs: number) =>
    new StatsCollector({
      store,
      log,
      upperDirOf: async () => undefined,
      dataRoot: async () => "/var/lib/docker",
      mounts: parseMountinfo(mountinfo),
      procRoot: join(root, "proc"),
      sampleIntervalMs: 0,
      sampleReuseMs,
    });
  const cpuOf = async (c: StatsCollector) => {
    const record = store.requireContainer(APP);
    return (await c.sampleContainer(record, "stats"))?.cpu?.usageNs;
  };

  test("ListPodSandboxStats right after ListContainerStats reuses the containers' samples", async () => {
    const c = collectorWith(60_000);
    try {
      await writeFile(usageFile(), "2000000000\n");
      assert.equal(await cpuOf(c), 2_000_000_000n);
      const reads = c.sizes.reads;
      await writeFile(usageFile(), "2500000000\n");
      const pod = await c.samplePod(store.requireSandbox(POD), store.containersOf(POD), "pod");
      assert.equal(pod.containers.get(APP)?.cpu?.usageNs, 2_000_000_000n, "the same sample");
      assert.equal(pod.processCount, 2n, "the reused sample has the process count");
      assert.ok(c.sizes.reads > reads, "the pod's own cgroup and network were read");
      // A new process (the container restarted) is never answered from the old one's sample.
      await proc(102, `${PARENT}/${APP}`);
      const record = store.requireContainer(APP);
      store.upsert({ kind: "container", record: { ...record, process: running(102) } });
      assert.equal(await cpuOf(c), 2_500_000_000n, "a new pid drops the reused sample");
      store.upsert({ kind: "container", record });
    } finally {
      await writeFile(usageFile(), "2000000000\n");
      await c.stop();
    }
  });

  test("after the reuse time a call reads the cgroup again", async () => {
    const c = collectorWith(0);
    try {
      await writeFile(usageFile(), "2000000000\n");
      assert.equal(await cpuOf(c), 2_000_000_000n);
      await writeFile(usageFile(), "2500000000\n");
      assert.equal(await cpuOf(c), 2_500_000_000n);
    } finally {
      await writeFile(usageFile(), "2000000000\n");
      await c.stop();
    }
  });
});
