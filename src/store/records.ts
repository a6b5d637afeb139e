import type { ContainerConfig, PodSandboxConfig } from "../gen/runtime/v1/api_pb.js";
import type { SandboxNetworkState } from "./sandbox-checkpoint.ts";

/** What Docker says of a container's process, kept from the last inspection or event. */
export interface ProcessState {
  /** Docker's status, or "gone" for a sandbox known only from its checkpoint. */
  status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead" | "gone";
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  /** The engine's error, e.g. why the start failed. */
  error: string;
  /** Nanoseconds since the epoch; 0 when it never happened. */
  startedAt: bigint;
  finishedAt: bigint;
}

export interface SandboxRecord {
  id: string;
  /** The pause container's Docker name. */
  name: string;
  config: PodSandboxConfig;
  runtimeHandler: string;
  createdAt: bigint;
  process: ProcessState;
  /**
   * The pod's network as its checkpoint holds it; undefined before the checkpoint exists.
   * Changed only through DockerSync.saveNetwork, which persists it first.
   */
  network: SandboxNetworkState | undefined;
  /** Made by cri-dockerd and adopted: reported the way cri-dockerd reported it. */
  criDockerd?: boolean;
}

export interface ContainerRecord {
  id: string;
  name: string;
  sandboxId: string;
  config: ContainerConfig;
  createdAt: bigint;
  /** The Docker image ID the container runs. */
  imageId: string;
  /** The image as the kubelet named it in CreateContainer. */
  userImage: string;
  /** Absolute path of the CRI log file, "" when the kubelet asked for none. */
  logPath: string;
  process: ProcessState;
  /** What the engine actually applied (may differ from the request: clamping, updates). */
  applied: AppliedSettings;
  /** Made by cri-dockerd and adopted: reported the way cri-dockerd reported it. */
  criDockerd?: boolean;
}

export interface AppliedSettings {
  cpuPeriod: number;
  cpuQuota: number;
  cpuShares: number;
  cpusetCpus: string;
  cpusetMems: string;
  memory: number;
  memorySwap: number;
  oomScoreAdj: number;
  /** Docker's "user[:group]" as created. */
  user: string;
  groupAdd: string[];
  stopSignal: string;
  tty: boolean;
  openStdin: boolean;
}
