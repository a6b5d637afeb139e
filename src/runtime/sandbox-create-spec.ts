import type { ContainerCreateBody, HostConfig } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import { NamespaceMode, type PodSandboxConfig } from "../gen/runtime/v1/api_pb.js";
import type { HostLimits } from "./host-limits.ts";
import { checkUserNamespace, modeName } from "./namespace-spec.ts";
import { cgroupParentFor } from "./resources-spec.ts";
import {
  clampOomScoreAdj,
  confinementSecurityOpts,
  groupAddOf,
  privilegedSettings,
  SANDBOX_OOM_SCORE_ADJ,
  userOf,
} from "./security-spec.ts";

/**
 * RunPodSandbox's pause container, as a Docker create body. No I/O: everything the host or
 * engine contributes arrives in the input.
 */

export interface SandboxSpecInput {
  config: PodSandboxConfig;
  /** The pause image (name or id). */
  image: string;
  /** The Docker runtime for the request's runtime_handler; undefined for the engine's default. */
  runtime?: string;
  /** berth's labels, set verbatim. */
  labels: Record<string, string>;
  limits: HostLimits;
  /** Contents of the seccomp profile files profileFilesNeeded(config) named, by path. */
  localhostProfiles?: ReadonlyMap<string, string>;
  /**
   * A resolv.conf of the lead's own to bind over /etc/resolv.conf. Usually left out: berth then
   * hands dns_config to Docker (Dns, DnsSearch, DnsOptions), which writes the pause container's
   * resolv.conf verbatim, and every container joining its network (`container:<id>`) shares
   * that file (checked on Docker 20.10 for both none and host network).
   */
  resolvConfPath?: string;
}

const PREFIX = "linux.security_context";

/**
 * The pause container. It owns the pod's namespaces:
 * - network: `none` (berth's CNI code networks its namespace) or `host` for NODE, with the host's
 *   UTS namespace too, since the CRI ties the hostname to the network namespace;
 * - IPC: `shareable`, because Docker 20.10 makes IPC private by default and app containers
 *   cannot join a private one ("non-shareable IPC"), or `host` for NODE;
 * - PID: private (POD and CONTAINER alike: it is the sandbox's own) or `host` for NODE.
 * Port mappings are not Docker port bindings: the CNI portmap plugin does them. The pod's
 * resources and overhead are not applied to the pause: the kubelet sizes the pod cgroup (the
 * cgroup parent) itself, and the pause gets the minimal CPU shares, as in dockershim.
 */
export function buildSandboxCreateBody(input: SandboxSpecInput): ContainerCreateBody {
  const { config, limits } = input;
  const linux = config.linux;
  const sc = linux?.securityContext;
  const ns = sc?.namespaceOptions;
  const network = ns?.network ?? NamespaceMode.POD;
  const ipc = ns?.ipc ?? NamespaceMode.POD;
  const pid = ns?.pid ?? NamespaceMode.POD;
  if (network !== NamespaceMode.POD && network !== NamespaceMode.NODE) {
    throw invalidArgument(
      `${PREFIX}.namespace_options.network: ${modeName(network)} is not valid for a pod sandbox (POD or NODE)`,
    );
  }
  if (ipc === NamespaceMode.TARGET) {
    throw invalidArgument(`${PREFIX}.namespace_options.ipc: TARGET is not valid for a pod sandbox`);
  }
  if (pid === NamespaceMode.TARGET) {
    throw invalidArgument(`${PREFIX}.namespace_options.pid: TARGET is not valid for a pod sandbox`);
  }
  checkUserNamespace(ns?.usernsOptions?.mode, `${PREFIX}.namespace_options`);
  const hostNetwork = network === NamespaceMode.NODE;
  const hostIpc = ipc === NamespaceMode.NODE;

  const hostConfig: HostConfig = {
    NetworkMode: hostNetwork ? "host" : "none",
    IpcMode: hostIpc ? "host" : "shareable",
  };
  if (hostNetwork) hostConfig.UTSMode = "host";
  if (pid === NamespaceMode.NODE) hostConfig.PidMode = "host";

  if (input.resolvConfPath) {
    hostConfig.Binds = [`${input.resolvConfPath}:/etc/resolv.conf:z`];
  } else if (config.dnsConfig) {
    // Left empty, a list keeps Docker's default for it (from the host's resolv.conf). The
    // kubelet always sends servers for ClusterFirst pods, and the host's for Default.
    const dns = config.dnsConfig;
    if (dns.servers.length > 0) hostConfig.Dns = [...dns.servers];
    if (dns.searches.length > 0) hostConfig.DnsSearch = [...dns.searches];
    if (dns.options.length > 0) hostConfig.DnsOptions = [...dns.options];
  }

  const sysctls = sandboxSysctls(linux?.sysctls ?? {}, { hostNetwork, hostIpc });
  if (Object.keys(sysctls).length > 0) hostConfig.Sysctls = sysctls;

  const cgroupParent = cgroupParentFor(linux?.cgroupParent ?? "", limits.cgroupDriver);
  if (cgroupParent !== undefined) hostConfig.CgroupParent = cgroupParent;
  hostConfig.CpuShares = 2;
  const oomScoreAdj = clampOomScoreAdj(SANDBOX_OOM_SCORE_ADJ, limits);
  if (oomScoreAdj !== 0) hostConfig.OomScoreAdj = oomScoreAdj;

  if (sc?.readonlyRootfs) hostConfig.ReadonlyRootfs = true;
  const groups = groupAddOf(sc, PREFIX);
  if (groups) hostConfig.GroupAdd = groups;

  // The pause never gains privileges (cri-dockerd sets this on every sandbox).
  const securityOpt: string[] = ["no-new-privileges"];
  if (sc?.privileged) {
    const privileged = privilegedSettings(limits);
    if (privileged.Privileged) hostConfig.Privileged = true;
    if (privileged.CapAdd) hostConfig.CapAdd = privileged.CapAdd;
    if (privileged.Devices.length > 0) hostConfig.Devices = privileged.Devices;
    if (privileged.DeviceCgroupRules) hostConfig.DeviceCgroupRules = privileged.DeviceCgroupRules;
    if (!privileged.Privileged) {
      hostConfig.MaskedPaths = [];
      hostConfig.ReadonlyPaths = [];
    }
    securityOpt.push(...privileged.SecurityOpt);
  } else {
    securityOpt.push(
      ...confinementSecurityOpts(sc, PREFIX, limits, input.localhostProfiles ?? new Map()),
    );
  }
  hostConfig.SecurityOpt = securityOpt;

  hostConfig.RestartPolicy = { Name: "no" };
  // The pause prints nothing worth keeping.
  hostConfig.LogConfig = { Type: "none" };
  if (input.runtime) hostConfig.Runtime = input.runtime;

  const body: ContainerCreateBody = { Image: input.image, Labels: { ...input.labels } };
  // A host-network pod has the node's hostname; setting one would rename the node.
  if (!hostNetwork && config.hostname !== "") body.Hostname = config.hostname;
  const user = userOf(sc, PREFIX);
  if (user !== undefined) body.User = user;
  body.HostConfig = hostConfig;
  return body;
}

/** Sysctls the kernel namespaces, by the namespace that holds them (runc's list). */
const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);
const UTS_SYSCTLS = new Set(["kernel.hostname", "kernel.domainname"]);

/**
 * Kubernetes also writes sysctls with "/" separators, where "." is then part of a name
 * ("net/ipv4/conf/eth0.100/rp_filter"); runc wants the dotted form with such dots as "/".
 */
function dotted(name: string): string {
  if (!name.includes("/")) return name;
  return name.replace(/[./]/g, (c) => (c === "/" ? "." : "/"));
}

/**
 * The pod's sysctls, checked as runc would check them at start, so RunPodSandbox fails instead
 * of a pause that never starts: only namespaced sysctls, and none of a namespace the pod
 * shares with the host (the API server refuses net.* with hostNetwork for the same reason).
 * Containers join the pause's namespaces, so the sysctls reach them all.
 */
export function sandboxSysctls(
  sysctls: Record<string, string>,
  ns: { hostNetwork: boolean; hostIpc: boolean },
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [raw, value] of Object.entries(sysctls)) {
    const name = dotted(raw);
    const field = `linux.sysctls["${raw}"]`;
    if (name.startsWith("net.")) {
      if (ns.hostNetwork) {
        throw invalidArgument(`${field}: not allowed for a pod in the host's network namespace`);
      }
    } else if (IPC_SYSCTLS.has(name) || name.startsWith("fs.mqueue.")) {
      if (ns.hostIpc) {
        throw invalidArgument(`${field}: not allowed for a pod in the host's IPC namespace`);
      }
    } else if (UTS_SYSCTLS.has(name)) {
      if (ns.hostNetwork) {
        throw invalidArgument(`${field}: not allowed for a pod in the host's UTS namespace`);
      }
    } else {
      throw invalidArgument(`${field}: not a namespaced sysctl; it would change the whole node`);
    }
    result[name] = value;
  }
  return result;
}
