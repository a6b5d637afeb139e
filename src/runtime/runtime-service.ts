import type { RuntimeService } from "../gen/runtime/v1/api_pb.js";
import { type ServiceHandlers, unimplemented } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { runtimeConfig } from "./runtime-config.ts";
import { status } from "./status.ts";
import { updateRuntimeConfig } from "./update-runtime-config.ts";
import { version } from "./version.ts";

/** Every RuntimeService RPC, by name; those berth does not serve yet answer UNIMPLEMENTED. */
export function runtimeServiceHandlers(s: Services): ServiceHandlers<typeof RuntimeService> {
  const notServed = (rpc: string) => unimplemented("runtime.v1.RuntimeService", rpc);
  return {
    version: version(s),
    status: status(s),
    runtimeConfig: runtimeConfig(s),
    updateRuntimeConfig: updateRuntimeConfig(s),

    runPodSandbox: notServed("RunPodSandbox"),
    stopPodSandbox: notServed("StopPodSandbox"),
    removePodSandbox: notServed("RemovePodSandbox"),
    podSandboxStatus: notServed("PodSandboxStatus"),
    listPodSandbox: notServed("ListPodSandbox"),
    streamPodSandboxes: notServed("StreamPodSandboxes"),
    updatePodSandboxResources: notServed("UpdatePodSandboxResources"),

    createContainer: notServed("CreateContainer"),
    startContainer: notServed("StartContainer"),
    stopContainer: notServed("StopContainer"),
    removeContainer: notServed("RemoveContainer"),
    listContainers: notServed("ListContainers"),
    streamContainers: notServed("StreamContainers"),
    containerStatus: notServed("ContainerStatus"),
    updateContainerResources: notServed("UpdateContainerResources"),
    reopenContainerLog: notServed("ReopenContainerLog"),
    execSync: notServed("ExecSync"),
    exec: notServed("Exec"),
    attach: notServed("Attach"),
    portForward: notServed("PortForward"),
    checkpointContainer: notServed("CheckpointContainer"),

    containerStats: notServed("ContainerStats"),
    listContainerStats: notServed("ListContainerStats"),
    streamContainerStats: notServed("StreamContainerStats"),
    podSandboxStats: notServed("PodSandboxStats"),
    listPodSandboxStats: notServed("ListPodSandboxStats"),
    streamPodSandboxStats: notServed("StreamPodSandboxStats"),
    getContainerEvents: notServed("GetContainerEvents"),
    listMetricDescriptors: notServed("ListMetricDescriptors"),
    listPodSandboxMetrics: notServed("ListPodSandboxMetrics"),
    streamPodSandboxMetrics: notServed("StreamPodSandboxMetrics"),
  };
}
