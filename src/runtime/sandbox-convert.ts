import { NamespaceMode, type PodSandboxFilter, PodSandboxState } from "../gen/runtime/v1/api_pb.js";
import { listedCreatedAt } from "../store/cri-dockerd-records.ts";
import type { SandboxRecord } from "../store/records.ts";

/** Host network is decided by the pod spec and nothing else. */
export function isHostNetwork(record: Pick<SandboxRecord, "config">): boolean {
  return record.config.linux?.securityContext?.namespaceOptions?.network === NamespaceMode.NODE;
}

/**
 * READY needs a running pause container and, for pod-network pods, an attached network:
 * a sandbox whose network was torn down (or never finished) must not be reused.
 */
export function sandboxState(
  record: Pick<SandboxRecord, "config" | "process" | "network">,
): PodSandboxState {
  const running = record.process.status === "running";
  if (!running) return PodSandboxState.SANDBOX_NOTREADY;
  if (isHostNetwork(record)) return PodSandboxState.SANDBOX_READY;
  return record.network?.ready ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

export function toPodSandbox(record: SandboxRecord, state: PodSandboxState) {
  return {
    id: record.id,
    metadata: record.config.metadata,
    state,
    // An adopted pod as cri-dockerd listed it (see cri-dockerd-records.ts).
    createdAt: listedCreatedAt(record),
    labels: record.config.labels,
    annotations: record.config.annotations,
    runtimeHandler: record.runtimeHandler,
  };
}

export function toPodSandboxStatus(record: SandboxRecord, state: PodSandboxState) {
  const ips = state === PodSandboxState.SANDBOX_READY && record.network ? record.network.ips : [];
  const options = record.config.linux?.securityContext?.namespaceOptions;
  return {
    ...toPodSandbox(record, state),
    createdAt: record.createdAt,
    network: { ip: ips[0] ?? "", additionalIps: ips.slice(1).map((ip) => ({ ip })) },
    linux: {
      namespaces: {
        // Exactly as created: the kubelet compares these with the pod spec and recreates
        // the pod forever when they differ.
        options: {
          network: options?.network ?? NamespaceMode.POD,
          pid: options?.pid ?? NamespaceMode.POD,
          ipc: options?.ipc ?? NamespaceMode.POD,
          targetId: options?.targetId ?? "",
        },
      },
    },
  };
}

export function matchesLabels(
  labels: Record<string, string>,
  selector: Record<string, string> | undefined,
): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector)) {
    if (labels[key] !== value) return false;
  }
  return true;
}

export function matchesSandboxFilter(
  record: SandboxRecord,
  state: PodSandboxState,
  filter: PodSandboxFilter | undefined,
): boolean {
  if (!filter) return true;
  if (filter.id !== "" && !record.id.startsWith(filter.id)) return false;
  if (filter.state && filter.state.state !== state) return false;
  return matchesLabels(record.config.labels, filter.labelSelector);
}
