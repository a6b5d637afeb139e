import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { type ServiceHandlers, unimplemented } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { attach } from "./attach.ts";
import { containerCreate } from "./container-create.ts";
import { containerEvents } from "./container-events.ts";
import { containerList, containerStream } from "./container-list.ts";
import { containerRemove } from "./container-remove.ts";
import { containerReopenLog } from "./container-reopen-log.ts";
import { containerStart } from "./container-start.ts";
import { containerStatsHandler } from "./container-stats.ts";
import { listContainerStatsHandler, streamContainerStatsHandler } from "./container-stats-list.ts";
import { containerStatus } from "./container-status.ts";
import { containerStop } from "./container-stop.ts";
import { containerUpdate } from "./container-update.ts";
import { exec } from "./exec.ts";
import { execSync } from "./exec-sync.ts";
import { listMetricDescriptorsHandler } from "./metric-descriptors-list.ts";
import { portForward } from "./port-forward.ts";
import { runtimeConfig } from "./runtime-config.ts";
import { sandboxList, sandboxStream } from "./sandbox-list.ts";
import {
  listPodSandboxMetricsHandler,
  streamPodSandboxMetricsHandler,
} from "./sandbox-metrics-list.ts";
import { sandboxRemove } from "./sandbox-remove.ts";
import { sandboxRun } from "./sandbox-run.ts";
import { podSandboxStatsHandler } from "./sandbox-stats.ts";
import { listPodSandboxStatsHandler, streamPodSandboxStatsHandler } from "./sandbox-stats-list.ts";
import { sandboxStatus } from "./sandbox-status.ts";
import { sandboxStop } from "./sandbox-stop.ts";
import { sandboxUpdateResources } from "./sandbox-update-resources.ts";
import { status } from "./status.ts";
import { updateRuntimeConfig } from "./update-runtime-config.ts";
import { version } from "./version.ts";

/** Every RuntimeService RPC, by name; those berth does not serve yet answer UNIMPLEMENTED. */
export function runtimeServiceHandlers(s: Services): ServiceHandlers<typeof RuntimeService> {
  const notServed = (rpc: string) => unimplemented("runtime.v1.RuntimeService", rpc);
  const stats = { store: s.store, stats: s.stats };
  return {
    version: version(s),
    status: status(s),
    runtimeConfig: runtimeConfig(s),
    updateRuntimeConfig: updateRuntimeConfig(s),

    runPodSandbox: sandboxRun(s),
    stopPodSandbox: sandboxStop(s),
    removePodSandbox: sandboxRemove(s),
    podSandboxStatus: sandboxStatus(s),
    listPodSandbox: sandboxList(s),
    streamPodSandboxes: sandboxStream(s),
    updatePodSandboxResources: sandboxUpdateResources(s),

    createContainer: containerCreate(s),
    startContainer: containerStart(s),
    stopContainer: containerStop(s),
    removeContainer: containerRemove(s),
    listContainers: containerList(s),
    streamContainers: containerStream(s),
    containerStatus: containerStatus(s),
    updateContainerResources: containerUpdate(s),
    reopenContainerLog: containerReopenLog(s),
    execSync: execSync({ docker: s.streaming.docker, lookup: s.streaming.lookup }),
    exec: exec({ server: s.streaming.server, lookup: s.streaming.lookup }),
    attach: attach({ server: s.streaming.server, lookup: s.streaming.lookup }),
    portForward: portForward({ server: s.streaming.server, lookup: s.streaming.lookup }),
    checkpointContainer: notServed("CheckpointContainer"),

    containerStats: containerStatsHandler(stats),
    listContainerStats: listContainerStatsHandler(stats),
    streamContainerStats: streamContainerStatsHandler(stats),
    podSandboxStats: podSandboxStatsHandler(stats),
    listPodSandboxStats: listPodSandboxStatsHandler(stats),
    streamPodSandboxStats: streamPodSandboxStatsHandler(stats),
    getContainerEvents: containerEvents(s),
    listMetricDescriptors: listMetricDescriptorsHandler(),
    listPodSandboxMetrics: listPodSandboxMetricsHandler(stats),
    streamPodSandboxMetrics: streamPodSandboxMetricsHandler(stats),
  };
}
