import { containerStatsHandler } from "../../src/rpc/runtime/container-stats.ts";
import { listContainerStatsHandler } from "../../src/rpc/runtime/container-stats-list.ts";
import { listMetricDescriptorsHandler } from "../../src/rpc/runtime/metric-descriptors-list.ts";
import { listPodSandboxMetricsHandler } from "../../src/rpc/runtime/sandbox-metrics-list.ts";
import { podSandboxStatsHandler } from "../../src/rpc/runtime/sandbox-stats.ts";
import { listPodSandboxStatsHandler } from "../../src/rpc/runtime/sandbox-stats-list.ts";
import type { StatsDeps } from "../../src/stats/stats-queries.ts";

/** The stats RPC handlers over a store and collector of the test's own, without a berth. */
export function statsRpcs(deps: StatsDeps) {
  return {
    containerStats: containerStatsHandler(deps),
    listContainerStats: listContainerStatsHandler(deps),
    podSandboxStats: podSandboxStatsHandler(deps),
    listPodSandboxStats: listPodSandboxStatsHandler(deps),
    listMetricDescriptors: listMetricDescriptorsHandler(),
    listPodSandboxMetrics: listPodSandboxMetricsHandler(deps),
  };
}
