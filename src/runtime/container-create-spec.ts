import type { ContainerCreateBody, HostConfig, ImageConfig } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import {
  type ContainerConfig,
  NamespaceMode,
  type NamespaceOption,
  type PodSandboxConfig,
  Signal,
} from "../gen/runtime/v1/api_pb.js";
import type { HostLimits } from "./host-limits.ts";
import {
  buildDevices,
  buildMounts,
  cdiDeviceRequests,
  type DeviceRequest,
  type PodFiles,
} from "./mounts-spec.ts";
import { checkUserNamespace, modeName } from "./namespace-spec.ts";
import { cgroupParentFor, resourceSettings } from "./resources-spec.ts";
import {
  capabilitySettings,
  confinementSecurityOpts,
  groupAddOf,
  privilegedSettings,
  userOf,
} from "./security-spec.ts";

/**
 * CreateContainer's Docker create body. No I/O: the image's config, the sandbox's container id,
 * seccomp profile contents and host facts all arrive in the input.
 */

/** HostConfig fields berth sets that src/docker/types.ts does not declare yet. */
export interface SpecHostConfig extends HostConfig {
  DeviceRequests?: DeviceRequest[];
}

/** A create body with the fields berth sets beyond src/docker/types.ts's ContainerCreateBody. */
export interface SpecCreateBody extends Omit<ContainerCreateBody, "HostConfig"> {
  HostConfig: SpecHostConfig;
  Healthcheck?: { Test: string[] };
}

export interface ContainerSpecInput {
  config: ContainerConfig;
  sandboxConfig: PodSandboxConfig;
  /** The pause container's Docker id: network, IPC and (POD) PID namespaces are joined from it. */
  sandboxId: string;
  /** For PID mode TARGET: the Docker id of namespace_options.target_id (defaults to it). */
  targetContainerId?: string;
  /** The image as inspected: its id pins the container to exactly that image. */
  image: { id: string; config: ImageConfig | null | undefined };
  /** The sandbox's Docker runtime; undefined for the engine's default. */
  runtime?: string;
  /** berth's labels, set verbatim. */
  labels: Record<string, string>;
  logConfig: { Type: string; Config?: Record<string, string> };
  limits: HostLimits;
  /** Contents of the seccomp profile files profileFilesNeeded(config) named, by path. */
  localhostProfiles: ReadonlyMap<string, string>;
  /**
   * Pod files of the lead's own to bind. Usually left out: joining the pause container's network
   * (`container:<id>`) makes Docker share its resolv.conf, hosts and hostname files.
   */
  podFiles?: PodFiles;
}

export interface SpecResult<T> {
  body: T;
  /** Settings that could not be applied and were dropped, for the lead to log. */
  warnings: string[];
}

const PREFIX = "linux.security_context";

/**
 * The Docker name of a CRI stop signal: enum names with PLUS/MINUS spelled as Docker and
 * kill(1) write them (SIGRTMINPLUS1 → SIGRTMIN+1). Undefined for RUNTIME_DEFAULT.
 */
export function signalName(signal: Signal): string | undefined {
  if (signal === Signal.RUNTIME_DEFAULT) return undefined;
  const name = Signal[signal];
  if (name === undefined) throw invalidArgument(`stop_signal: unknown value ${signal}`);
  return name.replace("PLUS", "+").replace("MINUS", "-");
}

/** The signal that stops the container: the config's, else the image's, else SIGTERM. */
export function stopSignalOf(
  config: Pick<ContainerConfig, "stopSignal">,
  image: ImageConfig | null | undefined,
): string {
  return signalName(config.stopSignal) ?? (image?.StopSignal || "SIGTERM");
}

/**
 * Entrypoint and Cmd by the CRI's override rules (containerd's WithProcessArgs, which follow
 * Docker's): command replaces the image's entrypoint and drops its cmd; args alone replace the
 * cmd and keep the entrypoint; neither runs the image's. An omitted field keeps the image's
 * (Docker merges image Cmd only while the body's Entrypoint is empty, which matches).
 */
export function processArgs(
  config: Pick<ContainerConfig, "command" | "args">,
  image: ImageConfig | null | undefined,
): { Entrypoint?: string[]; Cmd?: string[] } {
  if (config.command.length > 0) return { Entrypoint: [...config.command], Cmd: [...config.args] };
  if (config.args.length > 0) return { Cmd: [...config.args] };
  const entrypoint = (image?.Entrypoint ?? []).filter((part) => part !== "");
  if (entrypoint.length === 0 && (image?.Cmd ?? []).length === 0) {
    throw invalidArgument("command: neither the config nor the image names a command to run");
  }
  return {};
}

const decoder = new TextDecoder();

function envOf(config: ContainerConfig): string[] | undefined {
  if (config.envs.length === 0) return undefined;
  // Docker puts these after the image's environment, replacing same-named image variables.
  return config.envs.map((env, i) => {
    if (env.key === "" || env.key.includes("=")) {
      throw invalidArgument(`envs[${i}].key: "${env.key}" is not a variable name`);
    }
    return `${env.key}=${decoder.decode(env.value)}`;
  });
}

/**
 * Namespaces. The network is always the pause container's (`container:<id>`): that gives the
 * pod's network, and Docker then copies the pause's hostname and shares its resolv.conf and
 * hosts files. Docker refuses a Hostname with such a network mode ("conflicting options:
 * hostname and the network mode"), so the body never sets one. A host-network pod also gets
 * the host's UTS namespace (UTSMode host works together with `container:` networking).
 */
function namespaceSettings(
  ns: NamespaceOption | undefined,
  sandboxNs: NamespaceOption | undefined,
  sandboxId: string,
  targetContainerId: string | undefined,
): Pick<HostConfig, "NetworkMode" | "IpcMode" | "PidMode" | "UTSMode"> {
  const field = `${PREFIX}.namespace_options`;
  const network = ns?.network ?? NamespaceMode.POD;
  const sandboxNetwork = sandboxNs?.network ?? NamespaceMode.POD;
  if (network !== NamespaceMode.POD && network !== NamespaceMode.NODE) {
    throw invalidArgument(`${field}.network: ${modeName(network)} is not supported (POD or NODE)`);
  }
  // A container always lives in its pod's network namespace, whatever its own option says:
  // critest creates host-network pods' containers with no namespace options at all, and
  // containerd and dockershim follow the sandbox too.
  checkUserNamespace(ns?.usernsOptions?.mode, field);
  const sandbox = `container:${sandboxId}`;
  const result: Pick<HostConfig, "NetworkMode" | "IpcMode" | "PidMode" | "UTSMode"> = {
    NetworkMode: sandbox,
  };
  if (sandboxNetwork === NamespaceMode.NODE) result.UTSMode = "host";

  const ipc = ns?.ipc ?? NamespaceMode.POD;
  switch (ipc) {
    case NamespaceMode.POD:
      result.IpcMode = sandbox;
      break;
    case NamespaceMode.NODE:
      result.IpcMode = "host";
      break;
    case NamespaceMode.CONTAINER:
      result.IpcMode = "private";
      break;
    default:
      throw invalidArgument(
        `${field}.ipc: ${modeName(ipc)} is not supported (POD, CONTAINER or NODE)`,
      );
  }

  const pid = ns?.pid ?? NamespaceMode.POD;
  switch (pid) {
    case NamespaceMode.POD:
      result.PidMode = sandbox;
      break;
    case NamespaceMode.NODE:
      result.PidMode = "host";
      break;
    case NamespaceMode.CONTAINER:
      // Docker's default: a PID namespace of its own.
      break;
    case NamespaceMode.TARGET: {
      const target = targetContainerId || ns?.targetId || "";
      if (target === "") {
        throw invalidArgument(`${field}.target_id: required when pid is TARGET`);
      }
      result.PidMode = `container:${target}`;
      break;
    }
    default:
      throw invalidArgument(`${field}.pid: unknown value ${pid}`);
  }
  return result;
}

/** The create body for CreateContainer, and what had to be dropped. */
export function buildContainerCreateBody(input: ContainerSpecInput): SpecResult<SpecCreateBody> {
  const { config, sandboxConfig, limits } = input;
  const warnings: string[] = [];
  const sc = config.linux?.securityContext;
  const sandboxSc = sandboxConfig.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  if (privileged && !sandboxSc?.privileged) {
    // The CRI: a sandbox that will run a privileged container MUST be created privileged
    // (containerd refuses the same way).
    throw invalidArgument(
      `${PREFIX}.privileged: the pod sandbox was not created privileged (sandbox_config.linux.security_context.privileged)`,
    );
  }

  const hostConfig: SpecHostConfig = namespaceSettings(
    sc?.namespaceOptions,
    sandboxSc?.namespaceOptions,
    input.sandboxId,
    input.targetContainerId,
  );

  const mounts = buildMounts(config.mounts, {
    limits,
    selinuxLevel: sc?.selinuxOptions?.level || sandboxSc?.selinuxOptions?.level || "",
    readonlyRootfs: sc?.readonlyRootfs ?? false,
    podFiles: input.podFiles,
  });
  if (mounts.Binds.length > 0) hostConfig.Binds = mounts.Binds;
  if (mounts.Mounts.length > 0) hostConfig.Mounts = mounts.Mounts;
  warnings.push(...mounts.warnings);

  const devices = buildDevices(config.devices);
  const deviceRequests = cdiDeviceRequests(config.CDIDevices, limits);
  if (deviceRequests) hostConfig.DeviceRequests = deviceRequests;

  const securityOpt: string[] = [];
  if (privileged) {
    const settings = privilegedSettings(limits);
    if (settings.Privileged) hostConfig.Privileged = true;
    if (settings.CapAdd) hostConfig.CapAdd = settings.CapAdd;
    // The config's own devices keep their permissions; the host's fill in the rest.
    const taken = new Set(devices.map((device) => device.PathInContainer));
    devices.push(...settings.Devices.filter((device) => !taken.has(device.PathInContainer)));
    if (settings.DeviceCgroupRules) hostConfig.DeviceCgroupRules = settings.DeviceCgroupRules;
    securityOpt.push(...settings.SecurityOpt);
    // Privileged masks nothing (the kubelet still sends its defaults; containerd clears them).
    hostConfig.MaskedPaths = [];
    hostConfig.ReadonlyPaths = [];
  } else {
    Object.assign(hostConfig, capabilitySettings(sc?.capabilities, limits, PREFIX));
    securityOpt.push(...confinementSecurityOpts(sc, PREFIX, limits, input.localhostProfiles));
    // Sent even when empty: Docker fills in its own list when the field is absent, while the
    // kubelet always sends the paths it wants (an empty list for procMount: Unmasked), and
    // containerd likewise treats empty as none (checked: `[]` masks nothing on Docker 20.10).
    hostConfig.MaskedPaths = [...(sc?.maskedPaths ?? [])];
    hostConfig.ReadonlyPaths = [...(sc?.readonlyPaths ?? [])];
  }
  if (sc?.noNewPrivs) securityOpt.push("no-new-privileges");
  if (securityOpt.length > 0) hostConfig.SecurityOpt = securityOpt;
  if (devices.length > 0) hostConfig.Devices = devices;

  const groups = groupAddOf(sc, PREFIX);
  if (groups) hostConfig.GroupAdd = groups;
  if (sc?.readonlyRootfs) hostConfig.ReadonlyRootfs = true;

  const resources = resourceSettings(config.linux?.resources, limits);
  Object.assign(hostConfig, resources.settings);
  warnings.push(...resources.warnings);
  const cgroupParent = cgroupParentFor(
    sandboxConfig.linux?.cgroupParent ?? "",
    limits.cgroupDriver,
  );
  if (cgroupParent !== undefined) hostConfig.CgroupParent = cgroupParent;

  hostConfig.RestartPolicy = { Name: "no" };
  hostConfig.LogConfig = input.logConfig;
  if (input.runtime) hostConfig.Runtime = input.runtime;

  if (config.workingDir !== "" && !config.workingDir.startsWith("/")) {
    throw invalidArgument(`working_dir: "${config.workingDir}" must be an absolute path`);
  }
  const body: SpecCreateBody = {
    Image: input.image.id,
    ...processArgs(config, input.image.config),
    Labels: { ...input.labels },
    StopSignal: stopSignalOf(config, input.image.config),
    // The kubelet runs its own probes; an image HEALTHCHECK would only add execs (cri-dockerd
    // turns it off the same way).
    Healthcheck: { Test: ["NONE"] },
    HostConfig: hostConfig,
  };
  const env = envOf(config);
  if (env) body.Env = env;
  if (config.workingDir !== "") body.WorkingDir = config.workingDir;
  const user = userOf(sc, PREFIX);
  if (user !== undefined) body.User = user;
  if (config.tty) body.Tty = true;
  if (config.stdin) {
    body.OpenStdin = true;
    body.AttachStdin = true;
  }
  if (config.stdinOnce) body.StdinOnce = true;
  return { body, warnings };
}
