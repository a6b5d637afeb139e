/**
 * What the benchmark asks of a CRI client. Two implementations do exactly the same calls: the
 * JavaScript one in this process (grpc-js, test/support/cri-client.ts) and the Go one
 * (kubelet-client/, on k8s.io/cri-client, the kubelet's own client), so that latencies are those
 * the kubelet would see. Latencies are measured inside the client, in milliseconds.
 */

/** The calls a single latency figure is made of. */
export const MEASURED_CALLS = [
  "relist",
  "podSandboxStatus",
  "containerStatus",
  "status",
  "listContainerStats",
  "listPodSandboxStats",
] as const;
export type MeasuredCall = (typeof MEASURED_CALLS)[number];

export interface PodSpec {
  /** Unique pod name; the uid and the log directory come from it. */
  name: string;
  uid: string;
  namespace: string;
  logDirectory: string;
  image: string;
  containers: number;
  /**
   * The pod's cgroup, as the kubelet always sets it (cgroupfs driver): containerd's
   * ListPodSandboxStats fails for a sandbox without one.
   */
  cgroupParent: string;
}

export interface StartedPod {
  podId: string;
  containerIds: string[];
  /** RunPodSandbox + (CreateContainer + StartContainer) per container. */
  ms: number;
}

export interface PollResult {
  rounds: number;
  elapsedSeconds: number;
  /** Per call name: every latency seen during the polling. */
  latencies: Record<string, number[]>;
  errors: number;
}

export interface CriDriver {
  readonly kind: "js" | "go";
  /** Makes sure the image is present (ImageStatus, PullImage when missing). */
  ensureImage(image: string): Promise<void>;
  runPod(pod: PodSpec): Promise<StartedPod>;
  /** StopPodSandbox + RemovePodSandbox; answers the milliseconds both took. */
  removePod(podId: string): Promise<number>;
  /** `n` back-to-back calls of one kind, spread over the given objects. */
  measure(call: MeasuredCall, n: number, pods: StartedPod[]): Promise<number[]>;
  /**
   * The kubelet's steady load for `seconds`: relist (ListPodSandbox + ListContainers) every
   * second, ListContainerStats + ListPodSandboxStats + ImageFsInfo every 10 s, Status every
   * 5 s, and each pod's status sync (ListPodSandbox and ListContainers filtered by the pod's
   * uid, PodSandboxStatus, ContainerStatus of each container) once a minute, spread over it.
   */
  poll(seconds: number, pods: StartedPod[], uids: string[]): Promise<PollResult>;
  close(): Promise<void>;
}

/** The labels the kubelet puts on a sandbox and its containers (label selectors use them). */
export function podLabels(pod: PodSpec): Record<string, string> {
  return {
    "io.kubernetes.pod.name": pod.name,
    "io.kubernetes.pod.namespace": pod.namespace,
    "io.kubernetes.pod.uid": pod.uid,
  };
}
