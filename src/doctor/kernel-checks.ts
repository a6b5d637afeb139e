import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import type { CheckResult } from "./check.ts";

const exec = promisify(execFile);

export interface KernelFacts {
  /** /proc/sys/net/ipv4/ip_forward; undefined when unreadable. */
  ipForward: string | undefined;
  /** /proc/sys/net/bridge/bridge-nf-call-iptables; undefined: br_netfilter is not loaded. */
  bridgeNfCallIptables: string | undefined;
  /** The filter table's FORWARD policy, or why it could not be read. */
  forwardPolicy: { policy: string } | { error: string };
  /**
   * What accepts the pods' traffic in FORWARD for the network berth would use: the firewall
   * plugin, or berth's own rules for its default network; undefined when nothing does.
   */
  podForwardAcceptedBy: string | undefined;
  /** /proc/sys/fs/inotify/max_user_instances; undefined when unreadable. */
  inotifyInstances: string | undefined;
}

export async function gatherKernelFacts(
  podForwardAcceptedBy: string | undefined,
): Promise<KernelFacts> {
  const sysctl = (path: string) =>
    readFile(path, "utf8").then(
      (text) => text.trim(),
      () => undefined,
    );
  return {
    ipForward: await sysctl("/proc/sys/net/ipv4/ip_forward"),
    bridgeNfCallIptables: await sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables"),
    forwardPolicy: await forwardPolicy(),
    podForwardAcceptedBy,
    inotifyInstances: await sysctl("/proc/sys/fs/inotify/max_user_instances"),
  };
}

async function forwardPolicy(): Promise<KernelFacts["forwardPolicy"]> {
  try {
    const { stdout } = await exec("iptables", ["-S", "FORWARD"], { timeout: 5_000 });
    const policy = /^-P FORWARD (\S+)/m.exec(stdout)?.[1];
    return policy ? { policy } : { error: "iptables -S FORWARD printed no policy" };
  } catch (err) {
    return { error: `iptables -S FORWARD: ${(err as Error).message.split("\n")[0]}` };
  }
}

const PERSIST = "and persist it in /etc/sysctl.d/99-kubernetes.conf";

export function evaluateIpForward(facts: KernelFacts): CheckResult {
  if (facts.ipForward === "1") {
    return { name: "ip-forward", status: "ok", detail: "net.ipv4.ip_forward = 1" };
  }
  return {
    name: "ip-forward",
    status: "fail",
    detail:
      facts.ipForward === undefined
        ? "net.ipv4.ip_forward cannot be read"
        : `net.ipv4.ip_forward = ${facts.ipForward}: the node does not route pod traffic`,
    fix: `sysctl -w net.ipv4.ip_forward=1, ${PERSIST}`,
  };
}

export function evaluateBridgeNetfilter(facts: KernelFacts): CheckResult {
  if (facts.bridgeNfCallIptables === undefined) {
    return {
      name: "br-netfilter",
      status: "fail",
      detail:
        "br_netfilter is not loaded (no /proc/sys/net/bridge): traffic between pods on one bridge bypasses iptables, so Services break",
      fix: "modprobe br_netfilter, and list it in /etc/modules-load.d/k8s.conf",
    };
  }
  if (facts.bridgeNfCallIptables !== "1") {
    return {
      name: "br-netfilter",
      status: "fail",
      detail: `net.bridge.bridge-nf-call-iptables = ${facts.bridgeNfCallIptables}: bridged pod traffic bypasses iptables, so Services break`,
      fix: `sysctl -w net.bridge.bridge-nf-call-iptables=1, ${PERSIST}`,
    };
  }
  return {
    name: "br-netfilter",
    status: "ok",
    detail: "br_netfilter loaded, net.bridge.bridge-nf-call-iptables = 1",
  };
}

export function evaluateForwardPolicy(facts: KernelFacts): CheckResult {
  if ("error" in facts.forwardPolicy) {
    return {
      name: "iptables-forward",
      status: "warn",
      detail: `cannot read the FORWARD policy (${facts.forwardPolicy.error})`,
      fix: "install iptables (berth's CNI plugins need it too)",
    };
  }
  const { policy } = facts.forwardPolicy;
  if (policy !== "DROP") {
    return { name: "iptables-forward", status: "ok", detail: `FORWARD policy ${policy}` };
  }
  if (facts.podForwardAcceptedBy) {
    return {
      name: "iptables-forward",
      status: "ok",
      detail: `FORWARD policy DROP (Docker sets it), and ${facts.podForwardAcceptedBy} accepts the pods' traffic`,
    };
  }
  return {
    name: "iptables-forward",
    status: "warn",
    detail:
      "FORWARD policy DROP (Docker sets it): traffic of pods to other hosts and between pods is dropped unless rules allow it",
    fix: 'add {"type": "firewall"} to the CNI network\'s plugins, or accept the pod CIDR in the DOCKER-USER chain (iptables -I DOCKER-USER -s POD_CIDR -j ACCEPT; and -d POD_CIDR)',
  };
}

/**
 * What berth's package sets (packaging/sysctl/30-berth.conf). Docker Engine 20.10 takes an
 * inotify instance for each log berth follows (one per running container) and polls the logs
 * past the limit, every 200 ms each; the limit is shared by every root process.
 */
export const INOTIFY_INSTANCES = 8192;
/** Below this a node of 110 pods runs out: a warning. */
const INOTIFY_INSTANCES_ENOUGH = 1024;

export function evaluateInotifyInstances(facts: KernelFacts): CheckResult {
  const value = Number(facts.inotifyInstances);
  if (facts.inotifyInstances !== undefined && value >= INOTIFY_INSTANCES_ENOUGH) {
    return {
      name: "inotify-instances",
      status: "ok",
      detail: `fs.inotify.max_user_instances = ${facts.inotifyInstances}`,
    };
  }
  return {
    name: "inotify-instances",
    status: "warn",
    detail:
      facts.inotifyInstances === undefined
        ? "fs.inotify.max_user_instances cannot be read"
        : `fs.inotify.max_user_instances = ${facts.inotifyInstances}: Docker Engine 20.10 watches each container log berth follows with an instance of its own and polls the logs past the limit (about 1.3 CPU-s a minute of dockerd at 110 pods)`,
    fix: `sysctl -w fs.inotify.max_user_instances=${INOTIFY_INSTANCES} (berth's package sets it in /usr/lib/sysctl.d/30-berth.conf)`,
  };
}
