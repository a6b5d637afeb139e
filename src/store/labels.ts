import { createHash } from "node:crypto";
import { resolve } from "node:path";

/**
 * The Docker labels by which berth knows its own containers among others on the same engine,
 * and carries what the CRI needs back: the config it was created with (immutable, so it
 * lives with the container and needs no file of its own) and the sandbox a container
 * belongs to.
 */
export const LABEL_MANAGED = "io.berth.managed";
export const LABEL_KIND = "io.berth.kind";
export const LABEL_SANDBOX_ID = "io.berth.sandbox-id";
export const LABEL_CONFIG = "io.berth.config";
export const LABEL_RUNTIME_HANDLER = "io.berth.runtime-handler";
export const LABEL_LOG_PATH = "io.berth.log-path";
export const LABEL_USER_IMAGE = "io.berth.image";
/**
 * Which berth owns the container: derived from its root directory, where the sandboxes'
 * checkpoints live. Two berths on one engine (or a berth beside cri-dockerd) never adopt,
 * list or clean up each other's containers.
 */
export const LABEL_INSTANCE = "io.berth.instance";

export function instanceOf(rootDir: string): string {
  return createHash("sha256").update(resolve(rootDir)).digest("hex").slice(0, 16);
}

/** The engine-side filter for one berth's containers. */
export function instanceFilter(instance: string): { label: string[] } {
  return { label: [`${LABEL_MANAGED}=true`, `${LABEL_INSTANCE}=${instance}`] };
}

export type BerthKind = "sandbox" | "container";

/** Labels the kubelet's own tools (and operators' `docker ps --filter`) look for. */
const KUBERNETES_LABELS = {
  podName: "io.kubernetes.pod.name",
  podNamespace: "io.kubernetes.pod.namespace",
  podUid: "io.kubernetes.pod.uid",
  containerName: "io.kubernetes.container.name",
};

export interface LabelInput {
  kind: BerthKind;
  instance: string;
  /** The CRI config, already encoded as protobuf JSON. */
  configJson: string;
  /** The CRI labels, also set verbatim so `docker ps --filter label=...` works for operators. */
  criLabels: Record<string, string>;
  extra: Record<string, string>;
}

export function berthLabels(input: LabelInput): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.criLabels)) {
    // berth's own namespace is reserved: the JSON config is the source of truth for CRI labels.
    if (!key.startsWith("io.berth.")) labels[key] = value;
  }
  return {
    ...labels,
    ...input.extra,
    [LABEL_MANAGED]: "true",
    [LABEL_INSTANCE]: input.instance,
    [LABEL_KIND]: input.kind,
    [LABEL_CONFIG]: input.configJson,
  };
}

export function kubernetesLabels(pod: {
  name: string;
  namespace: string;
  uid: string;
  container?: string;
}): Record<string, string> {
  const labels: Record<string, string> = {
    [KUBERNETES_LABELS.podName]: pod.name,
    [KUBERNETES_LABELS.podNamespace]: pod.namespace,
    [KUBERNETES_LABELS.podUid]: pod.uid,
  };
  if (pod.container !== undefined) labels[KUBERNETES_LABELS.containerName] = pod.container;
  return labels;
}

export function kindOf(labels: Record<string, string> | null | undefined): BerthKind | undefined {
  if (labels?.[LABEL_MANAGED] !== "true") return undefined;
  const kind = labels[LABEL_KIND];
  return kind === "sandbox" || kind === "container" ? kind : undefined;
}

/**
 * Docker container names as dockershim made them, which log collectors and operators know:
 * k8s_POD_<pod>_<namespace>_<uid>_<attempt> and k8s_<container>_<pod>_<namespace>_<uid>_<attempt>.
 */
export function sandboxContainerName(meta: {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}): string {
  return `k8s_POD_${meta.name}_${meta.namespace}_${meta.uid}_${meta.attempt}`;
}

export function appContainerName(
  container: { name: string; attempt: number },
  pod: { name: string; namespace: string; uid: string },
): string {
  return `k8s_${container.name}_${pod.name}_${pod.namespace}_${pod.uid}_${container.attempt}`;
}
