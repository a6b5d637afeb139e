import type { ContainerStatsFilter, PodSandboxStatsFilter } from "../gen/runtime/v1/api_pb.js";
import { matchesLabels } from "../runtime/sandbox-convert.ts";
import type { ContainerRecord, SandboxRecord } from "../store/records.ts";
import type { StateStore } from "../store/state-store.ts";
import { nowNs } from "./cgroup-reader.ts";
import { containerMetrics, type MetricInit, podMetrics } from "./metrics.ts";
import type { StatsCollector } from "./stats-collector.ts";
import {
  type ContainerStatsInit,
  type PodSandboxStatsInit,
  toContainerStats,
  toPodSandboxStats,
} from "./stats-convert.ts";

/**
 * What the stats RPCs answer, from berth's store (ids, filters) and the cgroup filesystem
 * through the StatsCollector, with no call to the engine.
 *
 * - ListContainerStats: every container of the store that matches, as containerd does;
 *   created and exited ones carry their attributes and writable layer only.
 * - ListPodSandboxStats / ListPodSandboxMetrics: sandboxes whose pause container runs.
 */

export interface StatsDeps {
  store: StateStore;
  stats: StatsCollector;
}

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

export async function listContainerStats(
  deps: StatsDeps,
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
  deps: StatsDeps,
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

export async function listPodSandboxStats(
  deps: StatsDeps,
  filter: PodSandboxStatsFilter | undefined,
): Promise<PodSandboxStatsInit[]> {
  const sandboxes = sandboxesMatching(deps.store, filter);
  const mountpoint = await mountpointOf(deps.stats);
  return Promise.all(sandboxes.map((sandbox) => sandboxStats(deps, sandbox, mountpoint)));
}

export async function listPodSandboxMetrics(deps: StatsDeps) {
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

/** One container's stats: NOT_FOUND for an unknown id. */
export async function containerStats(deps: StatsDeps, id: string): Promise<ContainerStatsInit> {
  const record = deps.store.requireContainer(id);
  const [sample, mountpoint] = await Promise.all([
    deps.stats.sampleContainer(record, "stats"),
    mountpointOf(deps.stats),
  ]);
  return toContainerStats(record, sample, deps.stats.layer(record.id), mountpoint, nowNs());
}

/** One pod's stats: NOT_FOUND for an unknown id. */
export async function podSandboxStats(deps: StatsDeps, id: string): Promise<PodSandboxStatsInit> {
  const sandbox = deps.store.requireSandbox(id);
  return sandboxStats(deps, sandbox, await mountpointOf(deps.stats));
}
