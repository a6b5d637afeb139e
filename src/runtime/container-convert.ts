import { type ContainerFilter, ContainerState, Signal } from "../gen/runtime/v1/api_pb.js";
import {
  criDockerdStatusImage,
  criDockerdStatusImageRef,
  listedCreatedAt,
} from "../store/cri-dockerd-records.ts";
import type { ContainerRecord } from "../store/records.ts";
import { matchesLabels } from "./sandbox-convert.ts";

/** What berth knows of an image for reporting: tags and digests by Docker image ID. */
export interface ImageNames {
  repoTags: string[];
  repoDigests: string[];
}

/**
 * Docker states in CRI terms. A container whose start failed stays "created" in Docker with
 * the error recorded; the CRI wants it EXITED (reason ContainerCannotRun), or the kubelet
 * waits for it forever.
 */
export function containerState(record: ContainerRecord): ContainerState {
  switch (record.process.status) {
    case "created":
      return record.process.error !== ""
        ? ContainerState.CONTAINER_EXITED
        : ContainerState.CONTAINER_CREATED;
    case "running":
    case "paused":
    case "restarting":
      return ContainerState.CONTAINER_RUNNING;
    case "exited":
    case "dead":
      return ContainerState.CONTAINER_EXITED;
    default:
      return ContainerState.CONTAINER_UNKNOWN;
  }
}

export function exitReason(record: ContainerRecord, state: ContainerState): string {
  if (state !== ContainerState.CONTAINER_EXITED) return "";
  if (record.process.status === "created") return "ContainerCannotRun";
  if (record.process.oomKilled) return "OOMKilled";
  return record.process.exitCode === 0 ? "Completed" : "Error";
}

/**
 * The image as people read it: what the kubelet's user asked for, or else the first tag,
 * never the bare sha256 ID the kubelet passes to CreateContainer.
 */
export function readableImage(record: ContainerRecord, names: ImageNames | undefined): string {
  const wanted = record.config.image?.userSpecifiedImage || record.userImage;
  if (wanted !== "" && !/^(sha256:)?[0-9a-f]{64}$/.test(wanted)) return wanted;
  return names?.repoTags[0] ?? wanted ?? record.imageId;
}

/** A repo digest (name@sha256:...) when the image has one, else its ID. */
export function imageRefOf(record: ContainerRecord, names: ImageNames | undefined): string {
  return names?.repoDigests[0] ?? record.imageId;
}

export function imageSpecOf(record: ContainerRecord, names: ImageNames | undefined) {
  return {
    image: readableImage(record, names),
    annotations: record.config.image?.annotations ?? {},
    userSpecifiedImage: record.config.image?.userSpecifiedImage || record.userImage,
    runtimeHandler: record.config.image?.runtimeHandler ?? "",
  };
}

export function toCriContainer(record: ContainerRecord, names: ImageNames | undefined) {
  return {
    id: record.id,
    podSandboxId: record.sandboxId,
    metadata: record.config.metadata,
    image: imageSpecOf(record, names),
    // An adopted container as cri-dockerd listed it (see cri-dockerd-records.ts).
    imageRef: record.criDockerd ? record.imageId : imageRefOf(record, names),
    imageId: record.imageId,
    state: containerState(record),
    createdAt: listedCreatedAt(record),
    labels: record.config.labels,
    annotations: record.config.annotations,
  };
}

const SIGNAL_NAMES = new Map<string, Signal>(
  Object.entries(Signal)
    .filter(([key, value]) => typeof value === "number" && key.startsWith("SIG"))
    .map(([key, value]) => [key, value as Signal]),
);

/** Docker's StopSignal ("SIGTERM", "TERM", "15") as the CRI enum. */
export function stopSignalEnum(name: string): Signal {
  if (name === "") return Signal.RUNTIME_DEFAULT;
  const upper = name.toUpperCase();
  return (
    SIGNAL_NAMES.get(upper.startsWith("SIG") ? upper : `SIG${upper}`) ?? Signal.RUNTIME_DEFAULT
  );
}

/**
 * Start and finish times as the CRI wants them ordered. Docker records StartedAt only after
 * runc's start returned, so a process that exits at once can have finished a little before it
 * "started": the finish is then reported as the start. A container whose start failed never
 * ran; like dockershim, berth reports its creation time for both, so the kubelet (which
 * orders restarts and back-off by the finish time) does not see the year 1970.
 */
export function processTimes(
  record: ContainerRecord,
  state: ContainerState,
): { startedAt: bigint; finishedAt: bigint } {
  const { startedAt, finishedAt } = record.process;
  switch (state) {
    case ContainerState.CONTAINER_RUNNING:
      return { startedAt, finishedAt: 0n };
    case ContainerState.CONTAINER_EXITED: {
      if (startedAt === 0n) {
        const at = latest(finishedAt, record.createdAt);
        return { startedAt: at, finishedAt: at };
      }
      return { startedAt, finishedAt: latest(finishedAt, startedAt) };
    }
    case ContainerState.CONTAINER_CREATED:
      return { startedAt: 0n, finishedAt: 0n };
    default:
      return { startedAt, finishedAt: 0n };
  }
}

/** The later of two times (Math.max takes no bigints). */
function latest(a: bigint, b: bigint): bigint {
  if (a < b) return b;
  return a;
}

export function toCriContainerStatus(
  record: ContainerRecord,
  names: ImageNames | undefined,
  user: { uid: bigint; gid: bigint; supplementalGroups: bigint[] } | undefined,
) {
  const state = containerState(record);
  const applied = record.applied;
  const { startedAt, finishedAt } = processTimes(record, state);
  return {
    id: record.id,
    metadata: record.config.metadata,
    state,
    createdAt: record.createdAt,
    startedAt,
    finishedAt,
    exitCode: state === ContainerState.CONTAINER_EXITED ? record.process.exitCode : 0,
    image: record.criDockerd
      ? {
          ...imageSpecOf(record, names),
          image: criDockerdStatusImage(record.userImage, names?.repoTags),
        }
      : imageSpecOf(record, names),
    imageRef: record.criDockerd
      ? criDockerdStatusImageRef(record.imageId, names?.repoDigests[0])
      : imageRefOf(record, names),
    imageId: record.imageId,
    reason: exitReason(record, state),
    message: record.process.error,
    labels: record.config.labels,
    annotations: record.config.annotations,
    // Exactly as requested, in CRI terms: not Docker's list with berth's own mounts.
    mounts: record.config.mounts,
    logPath: record.logPath,
    resources: {
      linux: {
        cpuPeriod: BigInt(applied.cpuPeriod),
        cpuQuota: BigInt(applied.cpuQuota),
        cpuShares: BigInt(applied.cpuShares),
        memoryLimitInBytes: BigInt(applied.memory),
        oomScoreAdj: BigInt(applied.oomScoreAdj),
        cpusetCpus: applied.cpusetCpus,
        cpusetMems: applied.cpusetMems,
        memorySwapLimitInBytes: BigInt(applied.memorySwap),
        hugepageLimits: record.config.linux?.resources?.hugepageLimits ?? [],
        unified: record.config.linux?.resources?.unified ?? {},
      },
    },
    user: user ? { linux: user } : undefined,
    stopSignal: stopSignalEnum(applied.stopSignal),
  };
}

export function matchesContainerFilter(
  record: ContainerRecord,
  filter: ContainerFilter | undefined,
): boolean {
  if (!filter) return true;
  if (filter.id !== "" && !record.id.startsWith(filter.id)) return false;
  if (filter.podSandboxId !== "" && !record.sandboxId.startsWith(filter.podSandboxId)) return false;
  if (filter.state && filter.state.state !== containerState(record)) return false;
  return matchesLabels(record.config.labels, filter.labelSelector);
}
