import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ContainerStatsSchema,
  CpuUsageSchema,
  MemoryUsageSchema,
  NetworkUsageSchema,
  PodSandboxStatsSchema,
  PsiStatsSchema,
} from "../gen/runtime/v1/api_pb.js";
import type { ContainerRecord, SandboxRecord } from "../store/records.ts";
import type { CgroupSample, Psi } from "./cgroup-reader.ts";
import { defaultInterfaceOf, type InterfaceCounters } from "./network-stats.ts";
import type { PodSample, RatedSample } from "./stats-collector.ts";
import type { LayerUsage } from "./writable-layer.ts";

/**
 * Samples in CRI terms (api.proto's ContainerStats, PodSandboxStats). Units: nanoseconds for
 * timestamps and CPU time, nano-cores for the CPU rate, bytes for memory and disk. A value
 * berth does not know is left out (the UInt64Value wrapper absent), never sent as 0.
 */

export type ContainerStatsInit = MessageInitShape<typeof ContainerStatsSchema>;
export type PodSandboxStatsInit = MessageInitShape<typeof PodSandboxStatsSchema>;
type CpuUsageInit = MessageInitShape<typeof CpuUsageSchema>;
type MemoryUsageInit = MessageInitShape<typeof MemoryUsageSchema>;
type NetworkUsageInit = MessageInitShape<typeof NetworkUsageSchema>;
type PsiInit = MessageInitShape<typeof PsiStatsSchema>;

const u64 = (value: bigint) => ({ value });
const maybe = (value: bigint | undefined) => (value === undefined ? undefined : { value });

function psiOf(psi: Psi | undefined): PsiInit | undefined {
  if (!psi) return undefined;
  const data = (d: Psi["some"]) =>
    d && { Total: d.total, Avg10: d.avg10, Avg60: d.avg60, Avg300: d.avg300 };
  return { Full: data(psi.full), Some: data(psi.some) };
}

export function toCpuUsage(sample: RatedSample): CpuUsageInit | undefined {
  if (!sample.cpu) return undefined;
  return {
    timestamp: sample.timestamp,
    usageCoreNanoSeconds: u64(sample.cpu.usageNs),
    usageNanoCores: maybe(sample.nanoCores),
    psi: psiOf(sample.cpu.psi),
  };
}

export function toMemoryUsage(sample: CgroupSample): MemoryUsageInit | undefined {
  const m = sample.memory;
  if (!m) return undefined;
  // As the kubelet computes it from cAdvisor: limit - working set, when there is a limit.
  const available =
    m.limit === undefined ? undefined : m.limit > m.workingSet ? m.limit - m.workingSet : 0n;
  return {
    timestamp: sample.timestamp,
    workingSetBytes: u64(m.workingSet),
    availableBytes: maybe(available),
    usageBytes: u64(m.usage),
    rssBytes: u64(m.rss),
    pageFaults: u64(m.pgfault),
    majorPageFaults: u64(m.pgmajfault),
    psi: psiOf(m.psi),
  };
}

function toSwapUsage(sample: CgroupSample) {
  const m = sample.memory;
  if (m?.swap === undefined) return undefined;
  const available =
    m.swapLimit === undefined ? undefined : m.swapLimit > m.swap ? m.swapLimit - m.swap : 0n;
  return {
    timestamp: sample.timestamp,
    swapUsageBytes: u64(m.swap),
    swapAvailableBytes: maybe(available),
  };
}

function toIoUsage(sample: CgroupSample) {
  return sample.ioPsi ? { timestamp: sample.timestamp, psi: psiOf(sample.ioPsi) } : undefined;
}

export function containerAttributes(record: ContainerRecord) {
  return {
    id: record.id,
    metadata: record.config.metadata,
    labels: record.config.labels,
    annotations: record.config.annotations,
  };
}

export function sandboxAttributes(record: SandboxRecord) {
  return {
    id: record.id,
    metadata: record.config.metadata,
    labels: record.config.labels,
    annotations: record.config.annotations,
  };
}

/**
 * The writable layer: always its filesystem (the engine's data root, which ImageFsInfo also
 * names, so the kubelet matches them), with usage once the background job measured it.
 */
export function toWritableLayer(
  layer: LayerUsage | undefined,
  mountpoint: string | undefined,
  now: bigint,
) {
  if (mountpoint === undefined && !layer) return undefined;
  return {
    timestamp: layer?.timestamp ?? now,
    fsId: mountpoint === undefined ? undefined : { mountpoint },
    usedBytes: maybe(layer?.usedBytes),
    inodesUsed: maybe(layer?.inodesUsed),
  };
}

/**
 * One container's stats. Without a sample (not running: created, exited) only the attributes
 * and the writable layer, as containerd answers for containers without a task.
 */
export function toContainerStats(
  record: ContainerRecord,
  sample: RatedSample | undefined,
  layer: LayerUsage | undefined,
  mountpoint: string | undefined,
  now: bigint,
): ContainerStatsInit {
  return {
    attributes: containerAttributes(record),
    cpu: sample && toCpuUsage(sample),
    memory: sample && toMemoryUsage(sample),
    writableLayer: toWritableLayer(layer, mountpoint, now),
    swap: sample && toSwapUsage(sample),
    io: sample && toIoUsage(sample),
  };
}

function toInterfaceUsage(counters: InterfaceCounters) {
  return {
    name: counters.name,
    rxBytes: u64(counters.rxBytes),
    rxErrors: u64(counters.rxErrors),
    txBytes: u64(counters.txBytes),
    txErrors: u64(counters.txErrors),
  };
}

/**
 * The pod's interfaces; none at all (not even an empty message) when it has no interface but
 * loopback: the kubelet reads default_interface unconditionally once network is set.
 */
export function toNetworkUsage(network: PodSample["network"]): NetworkUsageInit | undefined {
  const chosen = network && defaultInterfaceOf(network.interfaces);
  if (!network || !chosen) return undefined;
  return {
    timestamp: network.timestamp,
    defaultInterface: toInterfaceUsage(chosen),
    interfaces: network.interfaces.map(toInterfaceUsage),
  };
}

export function toPodSandboxStats(
  sandbox: SandboxRecord,
  pod: PodSample,
  containers: ContainerStatsInit[],
  timestamp: bigint,
): PodSandboxStatsInit {
  return {
    attributes: sandboxAttributes(sandbox),
    linux: {
      cpu: pod.pod && toCpuUsage(pod.pod),
      memory: pod.pod && toMemoryUsage(pod.pod),
      network: toNetworkUsage(pod.network),
      process:
        pod.processCount === undefined
          ? undefined
          : { timestamp, processCount: u64(pod.processCount) },
      containers,
      io: pod.pod && toIoUsage(pod.pod),
    },
  };
}
