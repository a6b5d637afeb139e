import { ContainerState, PodSandboxState } from "../gen/runtime/v1/api_pb.js";
import { containerState } from "../runtime/container-convert.ts";
import { sandboxState } from "../runtime/sandbox-convert.ts";
import type { StateStore } from "../store/state-store.ts";

export type SandboxStateLabel = "ready" | "notready";
export type ContainerStateLabel = "created" | "running" | "exited" | "unknown";

export interface ObjectStates {
  sandboxes: Record<SandboxStateLabel, number>;
  containers: Record<ContainerStateLabel, number>;
}

const CONTAINER_LABELS: Record<ContainerState, ContainerStateLabel> = {
  [ContainerState.CONTAINER_CREATED]: "created",
  [ContainerState.CONTAINER_RUNNING]: "running",
  [ContainerState.CONTAINER_EXITED]: "exited",
  [ContainerState.CONTAINER_UNKNOWN]: "unknown",
};

/**
 * berth's sandboxes and containers counted by the state the CRI reports for them (the same
 * functions ListPodSandbox and ListContainers use), at scrape time: nothing is kept current
 * on the hot path. Every state is present, zero included, so a series never disappears.
 */
export function objectStates(store: StateStore): ObjectStates {
  const states: ObjectStates = {
    sandboxes: { ready: 0, notready: 0 },
    containers: { created: 0, running: 0, exited: 0, unknown: 0 },
  };
  for (const sandbox of store.sandboxes()) {
    const state = sandboxState(sandbox);
    states.sandboxes[state === PodSandboxState.SANDBOX_READY ? "ready" : "notready"]++;
  }
  for (const container of store.containers()) {
    states.containers[CONTAINER_LABELS[containerState(container)]]++;
  }
  return states;
}
