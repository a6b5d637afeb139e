import { invalidArgument } from "../errors.ts";
import { type DNSConfig, type PodSandboxConfig, Protocol } from "../gen/runtime/v1/api_pb.js";
import type { PortMapping } from "./pod-network.ts";

/** The pod's resolv.conf, as every container of the pod will see it. */
export function resolvConf(dns: DNSConfig): string {
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(" ")}`);
  for (const server of dns.servers) lines.push(`nameserver ${server}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

const PROTOCOLS: Record<number, string> = {
  [Protocol.TCP]: "tcp",
  [Protocol.UDP]: "udp",
  [Protocol.SCTP]: "sctp",
};

/**
 * hostPort mappings for CNI's portMappings capability. A mapping with host_port 0 is only a
 * declared container port, not a host port, and is dropped.
 */
export function hostPortMappings(config: PodSandboxConfig): PortMapping[] {
  return config.portMappings
    .filter((mapping) => mapping.hostPort > 0)
    .map((mapping, index) => {
      if (mapping.containerPort <= 0 || mapping.containerPort > 65535) {
        throw invalidArgument(`port_mappings[${index}].container_port must be 1-65535`);
      }
      if (mapping.hostPort > 65535) {
        throw invalidArgument(`port_mappings[${index}].host_port must be 1-65535`);
      }
      return {
        hostPort: mapping.hostPort,
        containerPort: mapping.containerPort,
        protocol: PROTOCOLS[mapping.protocol] ?? "tcp",
        hostIP: mapping.hostIp,
      };
    });
}

const SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

/** A Kubernetes quantity ("10M", "1Gi", "500k") as a number. */
export function parseQuantity(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kMGTP]i?|)$/.exec(text.trim());
  const suffix = SUFFIXES[match?.[2] ?? "x"];
  if (!match || suffix === undefined) throw new Error(`"${text}" is not a quantity`);
  return Math.round(Number(match[1]) * suffix);
}

/**
 * The kubelet passes traffic shaping as pod annotations; CNI's bandwidth capability takes
 * bits per second, with a burst as dockershim set it (the largest 32-bit value).
 */
export function bandwidthOf(annotations: Record<string, string>) {
  const ingress = annotations["kubernetes.io/ingress-bandwidth"];
  const egress = annotations["kubernetes.io/egress-bandwidth"];
  if (ingress === undefined && egress === undefined) return undefined;
  const rate = (value: string | undefined, key: string) => {
    if (value === undefined) return 0;
    try {
      return parseQuantity(value);
    } catch {
      throw invalidArgument(`annotation ${key}: "${value}" is not a quantity such as 10M`);
    }
  };
  const burst = 2 ** 31 - 1;
  const ingressRate = rate(ingress, "kubernetes.io/ingress-bandwidth");
  const egressRate = rate(egress, "kubernetes.io/egress-bandwidth");
  return {
    ingressRate,
    ingressBurst: ingressRate > 0 ? burst : 0,
    egressRate,
    egressBurst: egressRate > 0 ? burst : 0,
  };
}
