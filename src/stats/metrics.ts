import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type MetricDescriptorSchema,
  type MetricSchema,
  MetricType,
} from "../gen/runtime/v1/api_pb.js";
import { readableImage } from "../runtime/container-convert.ts";
import type { ContainerRecord, SandboxRecord } from "../store/records.ts";
import type { CgroupSample } from "./cgroup-reader.ts";
import type { InterfaceCounters } from "./network-stats.ts";
import type { PodSample } from "./stats-collector.ts";
import type { LayerUsage } from "./writable-layer.ts";

/**
 * ListMetricDescriptors / ListPodSandboxMetrics: the cAdvisor-named container metrics the
 * kubelet serves on /metrics/cadvisor when it takes pod and container stats from the CRI
 * (PodAndContainerStatsFromCRI). The kubelet registers one Prometheus descriptor per
 * MetricDescriptor and turns each Metric into a sample of that name, its label values in
 * the descriptor's label key order; a metric without a descriptor is dropped.
 *
 * Names, help, types and label keys follow containerd's implementation (the other CRI
 * runtime the kubelet is tested against), so dashboards written for cAdvisor keep working:
 * labels pod, namespace, container, id, image (+ interface, device, failure_type/scope).
 * Container series carry the container's name, id and image; pod-level series (the pod's
 * network, and its pod cgroup when the kubelet made one) have container="" and image="", as
 * cAdvisor's pod cgroup series do.
 *
 * CRI metric values are unsigned integers: seconds counters are whole seconds (truncated, as
 * containerd sends them); byte and count values are exact.
 */

export type MetricDescriptorInit = MessageInitShape<typeof MetricDescriptorSchema>;
export type MetricInit = MessageInitShape<typeof MetricSchema>;

interface Descriptor {
  name: string;
  help: string;
  labelKeys: string[];
  type: MetricType;
}

const BASE = ["pod", "namespace", "container", "id", "image"];
const NETWORK = [...BASE, "interface"];
const DISK = [...BASE, "device"];
const FAILURES = [...BASE, "failure_type", "scope"];
const { COUNTER, GAUGE } = MetricType;

const d = (name: string, type: MetricType, help: string, labelKeys = BASE): Descriptor => ({
  name,
  help,
  labelKeys,
  type,
});

export const DESCRIPTORS: readonly Descriptor[] = [
  // CPU
  d("container_cpu_usage_seconds_total", COUNTER, "Cumulative CPU time consumed in seconds."),
  d("container_cpu_user_seconds_total", COUNTER, "Cumulative user CPU time consumed in seconds."),
  d(
    "container_cpu_system_seconds_total",
    COUNTER,
    "Cumulative system CPU time consumed in seconds.",
  ),
  d("container_cpu_cfs_periods_total", COUNTER, "Number of elapsed enforcement period intervals."),
  d("container_cpu_cfs_throttled_periods_total", COUNTER, "Number of throttled period intervals."),
  d(
    "container_cpu_cfs_throttled_seconds_total",
    COUNTER,
    "Total time duration the container has been throttled.",
  ),
  // Memory
  d("container_memory_cache", GAUGE, "Number of bytes of page cache memory used by the container."),
  d(
    "container_memory_rss",
    GAUGE,
    "Size of RSS in bytes: anonymous memory and swap cache used by the container.",
  ),
  d("container_memory_mapped_file", GAUGE, "Size of memory mapped files in bytes."),
  d("container_memory_swap", GAUGE, "Container swap usage in bytes."),
  d(
    "container_memory_failcnt",
    COUNTER,
    "Number of times memory usage hit the limit (cgroup v2: memory.events max).",
  ),
  d(
    "container_memory_usage_bytes",
    GAUGE,
    "Current memory usage in bytes, including all memory regardless of when it was accessed.",
  ),
  d("container_memory_max_usage_bytes", GAUGE, "Maximum memory usage recorded in bytes."),
  d(
    "container_memory_working_set_bytes",
    GAUGE,
    "Current working set in bytes: usage minus inactive file pages.",
  ),
  d("container_memory_total_active_file_bytes", GAUGE, "Active file-backed memory in bytes."),
  d("container_memory_total_inactive_file_bytes", GAUGE, "Inactive file-backed memory in bytes."),
  d(
    "container_memory_failures_total",
    COUNTER,
    "Cumulative count of memory allocation failures (page faults).",
    FAILURES,
  ),
  d("container_oom_events_total", COUNTER, "Count of out of memory events (OOM kills)."),
  // Network (the pod's; every container of a pod shares it)
  d(
    "container_network_receive_bytes_total",
    COUNTER,
    "Cumulative count of bytes received.",
    NETWORK,
  ),
  d(
    "container_network_receive_packets_total",
    COUNTER,
    "Cumulative count of packets received.",
    NETWORK,
  ),
  d(
    "container_network_receive_packets_dropped_total",
    COUNTER,
    "Cumulative count of packets dropped while receiving.",
    NETWORK,
  ),
  d(
    "container_network_receive_errors_total",
    COUNTER,
    "Cumulative count of errors encountered while receiving.",
    NETWORK,
  ),
  d(
    "container_network_transmit_bytes_total",
    COUNTER,
    "Cumulative count of bytes transmitted.",
    NETWORK,
  ),
  d(
    "container_network_transmit_packets_total",
    COUNTER,
    "Cumulative count of packets transmitted.",
    NETWORK,
  ),
  d(
    "container_network_transmit_packets_dropped_total",
    COUNTER,
    "Cumulative count of packets dropped while transmitting.",
    NETWORK,
  ),
  d(
    "container_network_transmit_errors_total",
    COUNTER,
    "Cumulative count of errors encountered while transmitting.",
    NETWORK,
  ),
  // Filesystem
  d(
    "container_fs_usage_bytes",
    GAUGE,
    "Number of bytes consumed by the container's writable layer on this filesystem.",
    DISK,
  ),
  // Processes
  d("container_processes", GAUGE, "Number of processes (tasks) running inside the container."),
  d("container_threads", GAUGE, "Number of threads running inside the container."),
  d(
    "container_threads_max",
    GAUGE,
    "Maximum number of threads allowed inside the container, infinity if value is zero.",
  ),
  // Miscellaneous
  d("container_last_seen", GAUGE, "Last time the container was seen by the exporter."),
  d(
    "container_start_time_seconds",
    GAUGE,
    "Start time of the container since unix epoch in seconds.",
  ),
  // Spec
  d("container_spec_cpu_period", GAUGE, "CPU period of the container, microseconds."),
  d("container_spec_cpu_quota", GAUGE, "CPU quota of the container, microseconds per period."),
  d("container_spec_cpu_shares", GAUGE, "CPU share of the container."),
  d(
    "container_spec_memory_limit_bytes",
    GAUGE,
    "Memory limit for the container, 0 when unlimited.",
  ),
  d(
    "container_spec_memory_swap_limit_bytes",
    GAUGE,
    "Memory and swap limit for the container, 0 when unlimited.",
  ),
];

const TYPES = new Map(DESCRIPTORS.map((descriptor) => [descriptor.name, descriptor.type]));

export function metricDescriptors(): MetricDescriptorInit[] {
  return DESCRIPTORS.map(({ name, help, labelKeys }) => ({ name, help, labelKeys }));
}

const NS_PER_S = 1_000_000_000n;

/** Collects metrics of one series (fixed base label values). */
class Emitter {
  readonly metrics: MetricInit[] = [];
  readonly #labels: string[];
  readonly #timestamp: bigint;

  constructor(labels: string[], timestamp: bigint) {
    this.#labels = labels;
    this.#timestamp = timestamp;
  }

  add(name: string, value: bigint | undefined, extra: string[] = []): void {
    if (value === undefined) return;
    const metricType = TYPES.get(name);
    if (metricType === undefined) throw new Error(`metric ${name} has no descriptor`);
    this.metrics.push({
      name,
      timestamp: this.#timestamp,
      metricType,
      labelValues: extra.length === 0 ? this.#labels : [...this.#labels, ...extra],
      value: { value: value < 0n ? 0n : value },
    });
  }

  seconds(name: string, ns: bigint | undefined): void {
    this.add(name, ns === undefined ? undefined : ns / NS_PER_S);
  }
}

function emitCgroup(out: Emitter, sample: CgroupSample): void {
  const cpu = sample.cpu;
  if (cpu) {
    out.seconds("container_cpu_usage_seconds_total", cpu.usageNs);
    out.seconds("container_cpu_user_seconds_total", cpu.userNs);
    out.seconds("container_cpu_system_seconds_total", cpu.systemNs);
    out.add("container_cpu_cfs_periods_total", cpu.periods);
    out.add("container_cpu_cfs_throttled_periods_total", cpu.throttledPeriods);
    out.seconds("container_cpu_cfs_throttled_seconds_total", cpu.throttledNs);
  }
  const m = sample.memory;
  if (m) {
    out.add("container_memory_cache", m.cache);
    out.add("container_memory_rss", m.rss);
    out.add("container_memory_mapped_file", m.mappedFile);
    out.add("container_memory_swap", m.swap);
    out.add("container_memory_failcnt", m.failcnt);
    out.add("container_memory_usage_bytes", m.usage);
    out.add("container_memory_max_usage_bytes", m.maxUsage);
    out.add("container_memory_working_set_bytes", m.workingSet);
    out.add("container_memory_total_active_file_bytes", m.activeFile);
    out.add("container_memory_total_inactive_file_bytes", m.inactiveFile);
    out.add("container_memory_failures_total", m.pgfault, ["pgfault", "container"]);
    out.add("container_memory_failures_total", m.pgmajfault, ["pgmajfault", "container"]);
    out.add("container_oom_events_total", m.oomKills);
  }
  if (sample.pids) {
    out.add("container_processes", sample.pids.current);
    out.add("container_threads", sample.pids.current);
    out.add("container_threads_max", sample.pids.max ?? 0n);
  }
}

function emitNetwork(out: Emitter, interfaces: InterfaceCounters[]): void {
  for (const i of interfaces) {
    const name = [i.name];
    out.add("container_network_receive_bytes_total", i.rxBytes, name);
    out.add("container_network_receive_packets_total", i.rxPackets, name);
    out.add("container_network_receive_packets_dropped_total", i.rxDropped, name);
    out.add("container_network_receive_errors_total", i.rxErrors, name);
    out.add("container_network_transmit_bytes_total", i.txBytes, name);
    out.add("container_network_transmit_packets_total", i.txPackets, name);
    out.add("container_network_transmit_packets_dropped_total", i.txDropped, name);
    out.add("container_network_transmit_errors_total", i.txErrors, name);
  }
}

const pos = (value: number) => (value > 0 ? BigInt(value) : undefined);

/** A running container's metrics; `device` is the writable layer's filesystem. */
export function containerMetrics(input: {
  sandbox: SandboxRecord;
  record: ContainerRecord;
  sample: CgroupSample;
  layer: LayerUsage | undefined;
  device: string;
  now: bigint;
}): MetricInit[] {
  const { sandbox, record, sample, layer, device, now } = input;
  const meta = sandbox.config.metadata;
  const out = new Emitter(
    [
      meta?.name ?? "",
      meta?.namespace ?? "",
      record.config.metadata?.name ?? "",
      record.id,
      readableImage(record, undefined),
    ],
    sample.timestamp,
  );
  emitCgroup(out, sample);
  if (layer) {
    out.add("container_fs_usage_bytes", layer.usedBytes, [device]);
  }
  out.add("container_last_seen", now / NS_PER_S);
  out.add("container_start_time_seconds", pos(Number(record.process.startedAt / NS_PER_S)));
  const applied = record.applied;
  out.add("container_spec_cpu_period", pos(applied.cpuPeriod));
  out.add("container_spec_cpu_quota", pos(applied.cpuQuota));
  // 0: the engine left the kernel's default weight.
  out.add("container_spec_cpu_shares", BigInt(applied.cpuShares > 0 ? applied.cpuShares : 1024));
  out.add("container_spec_memory_limit_bytes", BigInt(Math.max(0, applied.memory)));
  // Docker's MemorySwap is memory+swap; 0 with a memory limit means twice the limit, -1 none.
  const swapLimit =
    applied.memorySwap > 0 ? applied.memorySwap : applied.memorySwap === 0 ? 2 * applied.memory : 0;
  out.add("container_spec_memory_swap_limit_bytes", BigInt(Math.max(0, swapLimit)));
  return out.metrics;
}

/** Pod-level metrics: the network, and the pod cgroup's when the pod has one. */
export function podMetrics(
  sandbox: SandboxRecord,
  pod: PodSample,
  podCgroup: boolean,
): MetricInit[] {
  const meta = sandbox.config.metadata;
  const labels = [meta?.name ?? "", meta?.namespace ?? "", "", sandbox.id, ""];
  const metrics: MetricInit[] = [];
  if (podCgroup && pod.pod) {
    const out = new Emitter(labels, pod.pod.timestamp);
    emitCgroup(out, pod.pod);
    metrics.push(...out.metrics);
  }
  if (pod.network) {
    const out = new Emitter(labels, pod.network.timestamp);
    emitNetwork(out, pod.network.interfaces);
    metrics.push(...out.metrics);
  }
  return metrics;
}
