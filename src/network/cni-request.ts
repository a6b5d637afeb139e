import { invalidArgument } from "../errors.ts";

/** One host port, as CNI's portMappings capability convention has it. */
export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  /** "tcp", "udp" or "sctp"; any case (sent lower-cased). */
  protocol: string;
  /** Empty or absent: every host address. */
  hostIP?: string;
}

/** CNI's bandwidth capability: rates in bits per second, bursts in bits; 0 means no limit. */
export interface CniBandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

export interface CniDns {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

/** The capability arguments berth can give; a plugin sees those its config declares. */
export interface CniCapabilities {
  portMappings?: CniPortMapping[];
  bandwidth?: CniBandwidth;
  dns?: CniDns;
}

/** One attachment of a pod sandbox to a network: CNI's "attachment parameters". */
export interface CniAttachment {
  /** The sandbox id: CNI_CONTAINERID. */
  containerId: string;
  /** e.g. /proc/<pid>/ns/net; at DEL it may be gone, and CNI_NETNS is then left empty. */
  netnsPath: string;
  /** Defaults to eth0. */
  ifName?: string;
  podNamespace: string;
  podName: string;
  podUid: string;
  capabilities?: CniCapabilities;
}

export const DEFAULT_IFNAME = "eth0";

/** What the spec allows as a container id, and as a network name (which also names files). */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function validateContainerId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw invalidArgument(
      `CNI container id "${id}" must start with a letter or digit, followed by letters, digits, "_", "." or "-"`,
    );
  }
}

export function isValidNetworkName(name: string): boolean {
  return ID_PATTERN.test(name);
}

/** Linux interface names: under 16 bytes, not "." or "..", no "/", ":" or whitespace. */
export function validateIfName(name: string): void {
  if (
    name === "" ||
    Buffer.byteLength(name) > 15 ||
    name === "." ||
    name === ".." ||
    /[/:\s]/.test(name)
  ) {
    throw invalidArgument(`"${name}" is not a valid interface name for CNI_IFNAME`);
  }
}

/**
 * CNI_ARGS as the kubelet's dockershim passed them. IgnoreUnknown=1 keeps plugins that parse
 * CNI_ARGS strictly from failing on the K8S_* keys they do not know. A DEL without a cached ADD
 * may not know the pod: unknown keys are left out rather than sent empty.
 */
export function cniArgs(pod: {
  containerId: string;
  podNamespace?: string | undefined;
  podName?: string | undefined;
  podUid?: string | undefined;
}): Array<[string, string]> {
  const args: Array<[string, string]> = [["IgnoreUnknown", "1"]];
  const add = (key: string, value: string | undefined) => {
    if (value === undefined || value === "") return;
    // The format has no escaping: a ";" or "=" would split into other arguments.
    if (/[;=]/.test(value)) {
      throw invalidArgument(`CNI_ARGS value for ${key} must not contain ";" or "=": "${value}"`);
    }
    args.push([key, value]);
  };
  add("K8S_POD_NAMESPACE", pod.podNamespace);
  add("K8S_POD_NAME", pod.podName);
  add("K8S_POD_INFRA_CONTAINER_ID", pod.containerId);
  add("K8S_POD_UID", pod.podUid);
  return args;
}

export function formatCniArgs(args: Array<[string, string]>): string {
  return args.map(([key, value]) => `${key}=${value}`).join(";");
}

/**
 * The capability arguments the runtime offers, in the conventions' shapes. Mappings without a
 * host port only declare a container port: they are not port forwards and would make portmap
 * claim port 0. Empty capabilities are left out so plugins see no runtimeConfig for them.
 */
export function capabilityArgs(capabilities: CniCapabilities | undefined): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (!capabilities) return args;
  const mappings = (capabilities.portMappings ?? [])
    .filter((mapping) => mapping.hostPort > 0)
    .map((mapping) => {
      const protocol = mapping.protocol.toLowerCase();
      const out: Record<string, unknown> = {
        hostPort: mapping.hostPort,
        containerPort: mapping.containerPort,
        protocol,
      };
      if (mapping.hostIP) out.hostIP = mapping.hostIP;
      return out;
    });
  if (mappings.length > 0) args.portMappings = mappings;
  const bandwidth = capabilities.bandwidth;
  if (bandwidth) {
    const values = {
      ingressRate: bandwidth.ingressRate ?? 0,
      ingressBurst: bandwidth.ingressBurst ?? 0,
      egressRate: bandwidth.egressRate ?? 0,
      egressBurst: bandwidth.egressBurst ?? 0,
    };
    if (Object.values(values).some((value) => value > 0)) args.bandwidth = values;
  }
  const dns = capabilities.dns;
  if (dns && (dns.servers?.length || dns.searches?.length || dns.options?.length)) {
    args.dns = {
      servers: dns.servers ?? [],
      searches: dns.searches ?? [],
      options: dns.options ?? [],
    };
  }
  return args;
}

/** Only what the plugin's `capabilities` map declares true reaches its runtimeConfig. */
export function runtimeConfigFor(
  plugin: Record<string, unknown>,
  args: Record<string, unknown>,
): Record<string, unknown> {
  const declared = plugin.capabilities;
  const runtimeConfig: Record<string, unknown> = {};
  if (!declared || typeof declared !== "object") return runtimeConfig;
  for (const [capability, enabled] of Object.entries(declared)) {
    if (enabled === true && capability in args) runtimeConfig[capability] = args[capability];
  }
  return runtimeConfig;
}

/**
 * A plugin's stdin: its configuration object with the list's name and the chosen version
 * injected, runtimeConfig derived from its capabilities, and prevResult when there is one. Other
 * fields pass through untouched; `capabilities` is dropped, as the spec says it must not be set.
 */
export function requestConfig(
  plugin: Record<string, unknown>,
  options: {
    name: string;
    cniVersion: string;
    prevResult?: unknown;
    capabilityArgs?: Record<string, unknown>;
  },
): Record<string, unknown> {
  const { capabilities: _declared, ...rest } = plugin;
  const config: Record<string, unknown> = {
    ...rest,
    cniVersion: options.cniVersion,
    name: options.name,
  };
  if (options.capabilityArgs) {
    const runtimeConfig = runtimeConfigFor(plugin, options.capabilityArgs);
    // libcni inserts runtimeConfig only when it has something for the plugin; plugins then see
    // exactly what they would under containerd or CRI-O.
    if (Object.keys(runtimeConfig).length > 0) config.runtimeConfig = runtimeConfig;
  }
  if (options.prevResult !== undefined) config.prevResult = options.prevResult;
  else delete config.prevResult;
  return config;
}
