import { fromJsonString } from "@bufbuild/protobuf";
import type { ContainerInspect } from "../docker/types.ts";
import { ContainerConfigSchema, PodSandboxConfigSchema } from "../gen/runtime/v1/api_pb.js";
import { rfc3339ToNanos } from "../util/time.ts";
import {
  kindOf,
  LABEL_CONFIG,
  LABEL_LOG_PATH,
  LABEL_RUNTIME_HANDLER,
  LABEL_SANDBOX_ID,
  LABEL_USER_IMAGE,
} from "./labels.ts";
import type { AppliedSettings, ContainerRecord, ProcessState, SandboxRecord } from "./records.ts";
import type { SandboxNetworkState } from "./sandbox-checkpoint.ts";

export type BerthRecord =
  | { kind: "sandbox"; record: SandboxRecord }
  | { kind: "container"; record: ContainerRecord };

export function processStateOf(inspect: ContainerInspect): ProcessState {
  const state = inspect.State;
  return {
    status: state.Status,
    pid: state.Pid,
    exitCode: state.ExitCode,
    oomKilled: state.OOMKilled,
    error: state.Error ?? "",
    startedAt: rfc3339ToNanos(state.StartedAt),
    finishedAt: rfc3339ToNanos(state.FinishedAt),
  };
}

/**
 * A Docker container as berth's record, or undefined when the container is not berth's
 * (or its labels were damaged: such a container is left alone rather than guessed at).
 */
export function recordOf(inspect: ContainerInspect): BerthRecord | undefined {
  const labels = inspect.Config.Labels ?? {};
  const kind = kindOf(labels);
  const configJson = labels[LABEL_CONFIG];
  if (!kind || !configJson) return undefined;
  const name = inspect.Name.replace(/^\//, "");
  const createdAt = rfc3339ToNanos(inspect.Created);
  const process = processStateOf(inspect);
  try {
    if (kind === "sandbox") {
      return {
        kind,
        record: {
          id: inspect.Id,
          name,
          config: fromJsonString(PodSandboxConfigSchema, configJson, { ignoreUnknownFields: true }),
          runtimeHandler: labels[LABEL_RUNTIME_HANDLER] ?? "",
          createdAt,
          process,
          // The checkpoint's, filled in by DockerSync: labels never carry it.
          network: undefined,
        },
      };
    }
    return {
      kind,
      record: {
        id: inspect.Id,
        name,
        sandboxId: labels[LABEL_SANDBOX_ID] ?? "",
        config: fromJsonString(ContainerConfigSchema, configJson, { ignoreUnknownFields: true }),
        createdAt,
        imageId: inspect.Image,
        userImage: labels[LABEL_USER_IMAGE] ?? "",
        logPath: labels[LABEL_LOG_PATH] ?? "",
        process,
        applied: appliedOf(inspect),
      },
    };
  } catch {
    return undefined;
  }
}

/** What the engine applied to a container, as its inspection reports it. */
export function appliedOf(inspect: ContainerInspect): AppliedSettings {
  return {
    cpuPeriod: inspect.HostConfig.CpuPeriod ?? 0,
    cpuQuota: inspect.HostConfig.CpuQuota ?? 0,
    cpuShares: inspect.HostConfig.CpuShares ?? 0,
    cpusetCpus: inspect.HostConfig.CpusetCpus ?? "",
    cpusetMems: inspect.HostConfig.CpusetMems ?? "",
    memory: inspect.HostConfig.Memory ?? 0,
    memorySwap: inspect.HostConfig.MemorySwap ?? 0,
    oomScoreAdj: inspect.HostConfig.OomScoreAdj ?? 0,
    user: inspect.Config.User ?? "",
    groupAdd: inspect.HostConfig.GroupAdd ?? [],
    stopSignal: inspect.Config.StopSignal ?? "",
    tty: inspect.Config.Tty ?? false,
    openStdin: inspect.Config.OpenStdin ?? false,
  };
}

/**
 * A sandbox whose pause container no longer exists, rebuilt from its checkpoint so that it
 * is listed NOTREADY and Stop/Remove can still release its network.
 */
export function orphanSandboxOf(
  id: string,
  network: SandboxNetworkState,
): SandboxRecord | undefined {
  const saved = network.sandbox;
  try {
    return {
      id,
      name: saved.name,
      config: fromJsonString(PodSandboxConfigSchema, saved.configJson, {
        ignoreUnknownFields: true,
      }),
      runtimeHandler: saved.runtimeHandler,
      createdAt: BigInt(saved.createdAt),
      network,
      process: {
        status: "gone",
        pid: 0,
        exitCode: 0,
        oomKilled: false,
        error: "",
        startedAt: 0n,
        finishedAt: 0n,
      },
    };
  } catch {
    return undefined;
  }
}
