import type {
  ContainerStatsFilter,
  PodSandboxStatsFilter,
  RuntimeService,
} from "../gen/runtime/v1/api_pb.js";
import { matchesLabels } from "../runtime/sandbox-convert.ts";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { ContainerRecord, SandboxRecord } from "../store/records.ts";
import type { StateStore } from "../store/state-store.ts";
import { nowNs } from "./cgroup-reader.ts";
import { containerMetrics, type MetricInit, metricDescriptors, podMetrics } from "./metrics.ts";
import type { StatsCollector } from "./stats-collector.ts";
import {
  type ContainerStatsInit,
  type PodSandboxStatsInit,
  toContainerStats,
  toPodSandboxStats,
} from "./stats-convert.ts";

/**
 * The stats RPCs of RuntimeService: answered from berth's store (ids, filters) and the
 * cgroup filesystem through the StatsCollector, with no call to the engine.
 *
 * - ContainerStats / PodSandboxStats: NOT_FOUND for an unknown id (the kubelet tolerates only
 *   that code when a container goes between its list and its stats call).
 * - ListContainerStats: every container of the store that matches, as containerd does;
 *   created and exited ones carry their attributes and writable layer only.
 * - ListPodSandboxStats / ListPodSandboxMetrics: sandboxes whose pause container runs.
 * - The Stream* variants send the same answers in batches.
 */

type Rpc = ServiceHandlers<typeof RuntimeService>;

export interface StatsHandlerDeps {
  store: StateStore;
  stats: StatsCollector;
}

/** Stream batches: a message stays well under gRPC's default 4 MiB limit. */
const STATS_BATCH = 500;
const METRICS_BATCH = 50;

async function mountpointOf(stats: StatsCollector): Promise<string | undefined> {
  // Resolved once in the background by start(); a first call may wait for that answer.
  return stats.fsMountpoint().catch(() => undefined);
}

function containersMatching(
  store: StateStore,
  filter: ContainerStatsFilter | undefined,
): ContainerRecord[] {
  if (!filter) return [...store.containers()];
  let candidates: Iterable<ContainerRecord>;
  if (filter.id !== "") {
    const one = store.container(filter.id);
    candidates = one ? [one] : [];
  } else if (filter.podSandboxId !== "") {
    const sandbox = store.sandbox(filter.podSandboxId);
    candidates = sandbox ? store.containersOf(sandbox.id) : [];
  } else {
    candidates = store.containers();
  }
  const sandboxId = filter.podSandboxId === "" ? undefined : store.sandbox(filter.podSandboxId)?.id;
  const result: ContainerRecord[] = [];
  for (const record of candidates) {
    if (filter.podSandboxId !== "" && record.sandboxId !== sandboxId) continue;
    if (!matchesLabels(record.config.labels, filter.labelSelector)) continue;
    result.push(record);
  }
  return result;
}

function sandboxesMatching(
  store: StateStore,
  filter: PodSandboxStatsFilter | undefined,
): SandboxRecord[] {
  let candidates: Iterable<SandboxRecord>;
  if (filter && filter.id !== "") {
    const one = store.sandbox(filter.id);
    candidates = one ? [one] : [];
  } else {
    candidates = store.sandboxes();
  }
  const result: SandboxRecord[] = [];
  for (const record of candidates) {
    // Only a running pause container has cgroups and a network namespace to read.
    if (record.process.status !== "running") continue;
    if (!matchesLabels(record.config.labels, filter?.labelSelector)) continue;
    result.push(record);
  }
  return result;
}

async function listContainerStats(
  deps: StatsHandlerDeps,
  filter: ContainerStatsFilter | undefined,
): Promise<ContainerStatsInit[]> {
  const records = containersMatching(deps.store, filter);
  const mountpoint = await mountpointOf(deps.stats);
  const now = nowNs();
  return Promise.all(
    records.map(async (record) =>
      toContainerStats(
        record,
        await deps.stats.sampleContainer(record, "stats"),
        deps.stats.layer(record.id),
        mountpoint,
        now,
      ),
    ),
  );
}

async function sandboxStats(
  deps: StatsHandlerDeps,
  sandbox: SandboxRecord,
  mountpoint: string | undefined,
): Promise<PodSandboxStatsInit> {
  const containers = deps.store.containersOf(sandbox.id);
  const pod = await deps.stats.samplePod(sandbox, containers, "pod");
  const now = nowNs();
  const containerStats = containers.map((record) =>
    toContainerStats(
      record,
      pod.containers.get(record.id),
      deps.stats.layer(record.id),
      mountpoint,
      now,
    ),
  );
  return toPodSandboxStats(sandbox, pod, containerStats, now);
}

async function listPodSandboxStats(
  deps: StatsHandlerDeps,
  filter: PodSandboxStatsFilter | undefined,
): Promise<PodSandboxStatsInit[]> {
  const sandboxes = sandboxesMatching(deps.store, filter);
  const mountpoint = await mountpointOf(deps.stats);
  return Promise.all(sandboxes.map((sandbox) => sandboxStats(deps, sandbox, mountpoint)));
}

async function listPodSandboxMetrics(deps: StatsHandlerDeps) {
  const sandboxes = sandboxesMatching(deps.store, undefined);
  await mountpointOf(deps.stats);
  const device = deps.stats.fsDevice;
  return Promise.all(
    sandboxes.map(async (sandbox) => {
      const containers = deps.store
        .containersOf(sandbox.id)
        .filter((record) => record.process.status === "running");
      const pod = await deps.stats.samplePod(sandbox, containers, "metrics");
      const now = nowNs();
      const podCgroup = (sandbox.config.linux?.cgroupParent ?? "") !== "";
      const containerMetricsList: Array<{ containerId: string; metrics: MetricInit[] }> = [];
      for (const record of containers) {
        const sample = pod.containers.get(record.id);
        if (!sample) continue;
        containerMetricsList.push({
          containerId: record.id,
          metrics: containerMetrics({
            sandbox,
            record,
            sample,
            layer: deps.stats.layer(record.id),
            device,
            now,
          }),
        });
      }
      return {
        podSandboxId: sandbox.id,
        metrics: podMetrics(sandbox, pod, podCgroup),
        containerMetrics: containerMetricsList,
      };
    }),
  );
}

async function sendInBatches<T>(
  items: T[],
  size: number,
  send: (batch: T[]) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await send(items.slice(i, i + size));
}

export function containerStatsHandler(deps: StatsHandlerDeps): Rpc["containerStats"] {
  return async (request) => {
    const record = deps.store.requireContainer(request.containerId);
    const [sample, mountpoint] = await Promise.all([
      deps.stats.sampleContainer(record, "stats"),
      mountpointOf(deps.stats),
    ]);
    return {
      stats: toContainerStats(record, sample, deps.stats.layer(record.id), mountpoint, nowNs()),
    };
  };
}

export function listContainerStatsHandler(deps: StatsHandlerDeps): Rpc["listContainerStats"] {
  return async (request) => ({ stats: await listContainerStats(deps, request.filter) });
}

export function streamContainerStatsHandler(deps: StatsHandlerDeps): Rpc["streamContainerStats"] {
  return async (request, send) => {
    const stats = await listContainerStats(deps, request.filter);
    await sendInBatches(stats, STATS_BATCH, (batch) => send({ containerStats: batch }));
  };
}

export function podSandboxStatsHandler(deps: StatsHandlerDeps): Rpc["podSandboxStats"] {
  return async (request) => {
    const sandbox = deps.store.requireSandbox(request.podSandboxId);
    return { stats: await sandboxStats(deps, sandbox, await mountpointOf(deps.stats)) };
  };
}

export function listPodSandboxStatsHandler(deps: StatsHandlerDeps): Rpc["listPodSandboxStats"] {
  return async (request) => ({ stats: await listPodSandboxStats(deps, request.filter) });
}

export function streamPodSandboxStatsHandler(deps: StatsHandlerDeps): Rpc["streamPodSandboxStats"] {
  return async (request, send) => {
    const stats = await listPodSandboxStats(deps, request.filter);
    await sendInBatches(stats, STATS_BATCH, (batch) => send({ podSandboxStats: batch }));
  };
}

export function listMetricDescriptorsHandler(): Rpc["listMetricDescriptors"] {
  return async () => ({ descriptors: metricDescriptors() });
}

export function listPodSandboxMetricsHandler(deps: StatsHandlerDeps): Rpc["listPodSandboxMetrics"] {
  return async () => ({ podMetrics: await listPodSandboxMetrics(deps) });
}

export function streamPodSandboxMetricsHandler(
  deps: StatsHandlerDeps,
): Rpc["streamPodSandboxMetrics"] {
  return async (_request, send) => {
    const metrics = await listPodSandboxMetrics(deps);
    await sendInBatches(metrics, METRICS_BATCH, (batch) => send({ podSandboxMetrics: batch }));
  };
}

type StatsRpcs =
  | "containerStats"
  | "listContainerStats"
  | "streamContainerStats"
  | "podSandboxStats"
  | "listPodSandboxStats"
  | "streamPodSandboxStats"
  | "listMetricDescriptors"
  | "listPodSandboxMetrics"
  | "streamPodSandboxMetrics";

/** Every stats RPC, keyed as in ServiceHandlers<typeof RuntimeService>. */
export function statsHandlers(deps: StatsHandlerDeps): Pick<Rpc, StatsRpcs> {
  return {
    containerStats: containerStatsHandler(deps),
    listContainerStats: listContainerStatsHandler(deps),
    streamContainerStats: streamContainerStatsHandler(deps),
    podSandboxStats: podSandboxStatsHandler(deps),
    listPodSandboxStats: listPodSandboxStatsHandler(deps),
    streamPodSandboxStats: streamPodSandboxStatsHandler(deps),
    listMetricDescriptors: listMetricDescriptorsHandler(),
    listPodSandboxMetrics: listPodSandboxMetricsHandler(deps),
    streamPodSandboxMetrics: streamPodSandboxMetricsHandler(deps),
  };
}
