import { lstat, unlink } from "node:fs/promises";
import { toJsonString } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import type { ContainerInspect } from "../docker/types.ts";
import { messageOf } from "../errors.ts";
import { type PodSandboxConfig, PodSandboxConfigSchema } from "../gen/runtime/v1/api_pb.js";
import { writeCacheEntry } from "../network/cni-cache.ts";
import { podIpsFromResult } from "../network/cni-result.ts";
import {
  type LibcniCacheEntry,
  listLibcniCacheEntries,
  removeLibcniCacheEntries,
  toBerthCacheEntry,
} from "../network/libcni-cache.ts";
import type { NetnsPins } from "../network/netns-pin.ts";
import { CriDockerdCheckpoints } from "../store/cri-dockerd-checkpoint.ts";
import {
  CRI_DOCKERD_LOG_PATH_LABEL,
  CRI_DOCKERD_SANDBOX_ID_LABEL,
  CRI_DOCKERD_TYPE_LABEL,
  criDockerdSandboxOf,
} from "../store/cri-dockerd-records.ts";
import type { DockerSync } from "../store/docker-sync.ts";
import type { SandboxCheckpoints, SandboxNetworkState } from "../store/sandbox-checkpoint.ts";

/** cri-dockerd's built-in loopback network (network/cni getLoNetwork). */
const LOOPBACK_NETWORK = "cni-loopback";
/** The interface cri-dockerd attaches pods on (network.DefaultInterfaceName). */
const POD_IFNAME = "eth0";

export interface AdoptionDeps {
  docker: DockerEngine;
  sync: DockerSync;
  checkpoints: SandboxCheckpoints;
  netns: NetnsPins;
  /** berth's own CNI cache, where adopted attachments are copied for their DEL. */
  cniCacheDir: string;
  criDockerdRootDir: string;
  criDockerdCniCacheDir: string;
  log: Logger;
}

export interface AdoptionOutcome {
  adopted: string[];
  /** cri-dockerd sandboxes left alone, with the reason. */
  skipped: Array<{ id: string; reason: string }>;
}

/**
 * Takes over cri-dockerd's pods where they run: for every pause container cri-dockerd made
 * whose checkpoint lies in its root directory, berth writes a checkpoint of its own (marked
 * adopted) with the network the pod has (libcni's cached attachments, copied into berth's CNI
 * cache; the namespace pinned), and turns its containers' kubelet log paths from symlinks to
 * Docker's json-file into files berth writes (the log writers, started after the rebuild,
 * replay the whole engine log into them, then follow). No container is touched; from then on
 * DockerSync lists the adopted sandboxes and their containers as berth's own.
 */
export async function adoptCriDockerdPods(
  deps: AdoptionDeps,
  signal: AbortSignal,
): Promise<AdoptionOutcome> {
  const outcome: AdoptionOutcome = { adopted: [], skipped: [] };
  const theirs = new CriDockerdCheckpoints(deps.criDockerdRootDir);
  const sandboxes = await deps.docker.listContainers(
    { label: [`${CRI_DOCKERD_TYPE_LABEL}=podsandbox`] },
    signal,
  );
  for (const summary of sandboxes) {
    const id = summary.Id;
    try {
      if ((await deps.checkpoints.read(id))?.adoptedFrom) continue;
      const checkpoint = await theirs.read(id);
      if (checkpoint === undefined) {
        outcome.skipped.push({ id, reason: `no checkpoint in ${deps.criDockerdRootDir}/sandbox` });
        continue;
      }
      if (typeof checkpoint === "string") {
        outcome.skipped.push({ id, reason: `cri-dockerd's checkpoint is unusable: ${checkpoint}` });
        continue;
      }
      const inspect = await deps.docker.findContainer(id, signal);
      const record = inspect && criDockerdSandboxOf(inspect, checkpoint.portMappings);
      if (!inspect || !record) {
        outcome.skipped.push({ id, reason: "not a cri-dockerd pause container" });
        continue;
      }
      const state = await networkOf(deps, inspect, checkpoint.hostNetwork, record.config);
      state.sandbox = {
        name: record.name,
        configJson: toJsonString(PodSandboxConfigSchema, record.config),
        runtimeHandler: record.runtimeHandler,
        createdAt: record.createdAt.toString(),
      };
      await deps.sync.saveNetwork(id, state);
      await takeOverLogs(deps, id, signal);
      outcome.adopted.push(id);
    } catch (err) {
      if (signal.aborted) throw err;
      outcome.skipped.push({ id, reason: messageOf(err) });
    }
  }
  return outcome;
}

async function networkOf(
  deps: AdoptionDeps,
  inspect: ContainerInspect,
  checkpointHostNetwork: boolean,
  config: PodSandboxConfig,
): Promise<SandboxNetworkState> {
  const meta = config.metadata;
  const hostNetwork = checkpointHostNetwork || inspect.HostConfig.NetworkMode === "host";
  const running = inspect.State.Status === "running" && inspect.State.Pid > 0;
  const state: SandboxNetworkState = {
    netnsPath: "",
    hostNetwork,
    cniNetwork: undefined,
    ifName: POD_IFNAME,
    ips: [],
    portMappings: config.portMappings
      .filter((mapping) => mapping.hostPort > 0)
      .map((mapping) => ({
        hostPort: mapping.hostPort,
        containerPort: mapping.containerPort,
        protocol: ["tcp", "udp", "sctp"][mapping.protocol] ?? "tcp",
        hostIP: mapping.hostIp,
      })),
    podName: meta?.name ?? "",
    podNamespace: meta?.namespace ?? "",
    podUid: meta?.uid ?? "",
    sandbox: { name: "", configJson: "", runtimeHandler: "", createdAt: "0" },
    attached: false,
    ready: running && hostNetwork,
    adoptedFrom: {
      criDockerdRootDir: deps.criDockerdRootDir,
      cniCacheDir: deps.criDockerdCniCacheDir,
    },
  };
  if (hostNetwork) return state;
  const cached: Array<{ path: string; entry: LibcniCacheEntry }> = [];
  for (const found of await listLibcniCacheEntries(deps.criDockerdCniCacheDir, inspect.Id)) {
    if (typeof found.entry === "string") {
      deps.log.warn(
        { sandbox: inspect.Id, file: found.path, problem: found.entry },
        "unusable libcni cache file of an adopted pod: not detached through it",
      );
    } else cached.push({ path: found.path, entry: found.entry });
  }
  // The namespace outlives the pause container through the pin, so DEL still cleans inside.
  if (running) state.netnsPath = await deps.netns.pin(inspect.Id, inspect.State.Pid);
  for (const { path, entry } of cached) {
    await writeCacheEntry(deps.cniCacheDir, toBerthCacheEntry(entry, path, state.netnsPath));
  }
  // cri-dockerd caches its loopback attachment on eth0 too, under its own network name.
  const pod = cached.find(({ entry }) => entry.networkName !== LOOPBACK_NETWORK)?.entry;
  state.attached = cached.length > 0;
  state.cniNetwork = pod?.networkName;
  state.ips = pod ? podIpsFromResult(pod.result, POD_IFNAME).map((ip) => ip.address) : [];
  state.ready = running && pod !== undefined;
  return state;
}

/**
 * The kubelet reads an adopted container's log at its log path, which cri-dockerd made a
 * symlink to Docker's json-file log: berth writes that file itself from now on, so the link
 * goes (Docker's own file stays) and the writer replays the engine's log into a new file.
 */
async function takeOverLogs(deps: AdoptionDeps, sandboxId: string, signal: AbortSignal) {
  const containers = await deps.docker.listContainers(
    {
      label: [
        `${CRI_DOCKERD_TYPE_LABEL}=container`,
        `${CRI_DOCKERD_SANDBOX_ID_LABEL}=${sandboxId}`,
      ],
    },
    signal,
  );
  for (const { Labels } of containers) {
    const path = Labels?.[CRI_DOCKERD_LOG_PATH_LABEL];
    if (!path?.startsWith("/")) continue;
    const link = await lstat(path).catch(() => undefined);
    if (link?.isSymbolicLink()) await unlink(path);
  }
}

/**
 * What cri-dockerd left of an adopted sandbox berth removed: its checkpoint (else cri-dockerd,
 * back on the node, would list the pod again) and libcni's cache of the attachments berth
 * detached.
 */
export async function removeCriDockerdLeftovers(state: SandboxNetworkState, sandboxId: string) {
  const from = state.adoptedFrom;
  if (!from) return;
  await new CriDockerdCheckpoints(from.criDockerdRootDir).remove(sandboxId);
  await removeLibcniCacheEntries(from.cniCacheDir, sandboxId);
}
