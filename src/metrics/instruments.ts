import { Counter, Histogram } from "prom-client";
import { registry } from "./registry.ts";

/**
 * Every metric berth records on its paths, named as Prometheus asks (one `berth_` prefix,
 * base units, `_total` counters, histograms for latencies) and after the kubelet's and
 * cri-dockerd's names where those exist (`kubelet_runtime_operations_*`,
 * `kubelet_docker_operations_*`, `kubelet_network_plugin_operations_*`). Labels take bounded
 * values only: RPC and route names, codes, plugin types; never ids, image names or
 * credentials. The README's metrics table lists them.
 */

/** Sub-millisecond List calls up to pulls of several minutes. */
const OPERATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];
/** CNI plugins: a bridge ADD takes ~30 ms, a DEL ~80 ms; timeouts at 60 s. */
const PLUGIN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PULL_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600];

const registers = [registry];

export const runtimeOperations = new Counter({
  name: "berth_runtime_operations_total",
  help: "CRI calls served, by RPC and gRPC status code.",
  labelNames: ["operation_type", "grpc_code"] as const,
  registers,
});

export const runtimeOperationDuration = new Histogram({
  name: "berth_runtime_operations_duration_seconds",
  help: "Time to serve a CRI call (a streaming call: until its stream ended), by RPC.",
  labelNames: ["operation_type"] as const,
  buckets: OPERATION_BUCKETS,
  registers,
});

export const dockerOperations = new Counter({
  name: "berth_docker_operations_total",
  help: "Docker Engine API requests, by route and HTTP status (error: no answer; cancelled: the caller gave up).",
  labelNames: ["endpoint", "status"] as const,
  registers,
});

export const dockerOperationDuration = new Histogram({
  name: "berth_docker_operations_duration_seconds",
  help: "Time until the Docker Engine answered a request's status line, by route.",
  labelNames: ["endpoint"] as const,
  buckets: OPERATION_BUCKETS,
  registers,
});

export const networkPluginDuration = new Histogram({
  name: "berth_network_plugin_operations_duration_seconds",
  help: "Time a CNI plugin took for one command, by command and plugin type.",
  labelNames: ["operation_type", "plugin_type"] as const,
  buckets: PLUGIN_BUCKETS,
  registers,
});

export const networkPluginErrors = new Counter({
  name: "berth_network_plugin_operations_errors_total",
  help: "CNI plugin commands that failed, by command and plugin type.",
  labelNames: ["operation_type", "plugin_type"] as const,
  registers,
});

export const imagePulls = new Counter({
  name: "berth_image_pulls_total",
  help: "Image pulls run on the engine (concurrent identical requests share one), by result.",
  labelNames: ["result"] as const,
  registers,
});

export const imagePullDuration = new Histogram({
  name: "berth_image_pull_duration_seconds",
  help: "Time an image pull on the engine took, by result.",
  labelNames: ["result"] as const,
  buckets: PULL_BUCKETS,
  registers,
});

export const imagePullBytes = new Counter({
  name: "berth_image_pull_bytes_total",
  help: "Compressed layer bytes the engine downloaded for berth's pulls (layers already present count nothing).",
  registers,
});

export const containerLogCopyLag = new Histogram({
  name: "berth_container_log_copy_lag_seconds",
  help: "How long after the engine timestamped a line berth wrote it to the container's CRI log file (observed once per write, for its newest line).",
  buckets: LAG_BUCKETS,
  registers,
});

export const containerLogDroppedBytes = new Counter({
  name: "berth_container_log_dropped_bytes_total",
  help: "Bytes of container output berth could not write to the CRI log files (a full disk, say) and dropped; it writes again once the file takes writes.",
  registers,
});

export const eventStreamResyncs = new Counter({
  name: "berth_docker_event_stream_resyncs_total",
  help: "Times the engine's event stream broke or ended and berth rebuilt its state from the engine.",
  registers,
});

/** The result label of a pull, from what it threw (undefined: it succeeded). */
export type PullResult = "success" | "failure" | "cancelled" | "deadline_exceeded";
