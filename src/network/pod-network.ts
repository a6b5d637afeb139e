import type { SandboxNetworkState } from "../store/sandbox-checkpoint.ts";

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP: string;
}

export interface PodAttachment {
  sandboxId: string;
  netnsPath: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  portMappings: PortMapping[];
  dns: { servers: string[]; searches: string[]; options: string[] } | undefined;
  bandwidth:
    | { ingressRate: number; ingressBurst: number; egressRate: number; egressBurst: number }
    | undefined;
}

/** What sandboxes need from pod networking (CNI): attach, detach, and readiness. */
export interface PodNetwork {
  /** Forget the loaded config: the directory changed. */
  invalidate(): void;
  /** Whether a usable network config is loaded, and why not. */
  status(): Promise<{ ready: true; network: string } | { ready: false; reason: string }>;
  /** Attaches the pod; answers the network's name, the interface and the pod's IPs. */
  attach(
    pod: PodAttachment,
    signal: AbortSignal,
  ): Promise<{ network: string; ifName: string; ips: string[] }>;
  /**
   * CNI CHECK of an attachment, where the config's version allows it and the config does not
   * disable it: answers why the pod's network is broken, or undefined when it is fine (or
   * cannot be checked).
   */
  verify(
    sandboxId: string,
    state: SandboxNetworkState,
    signal: AbortSignal,
  ): Promise<string | undefined>;
  /**
   * Detaches what the checkpoint says was attached. Never throws for plugin failures: teardown
   * must finish (an interrupted ADD leaves state a plugin's DEL trips over); answers the
   * failures. With `keepCacheOnFailure` a failed DEL keeps what its ADD cached, so that a
   * later detach runs the same DEL again.
   */
  detach(
    sandboxId: string,
    state: SandboxNetworkState,
    netnsPath: string,
    signal: AbortSignal,
    options?: { keepCacheOnFailure?: boolean },
  ): Promise<string[]>;
}
