import { mkdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { failedPrecondition, invalidArgument } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { type Cidr, parseCidr } from "./cidr.ts";
import { type CniNetworkList, findNetworkConfig } from "./cni-config.ts";
import {
  ensureForwardingRules,
  forwardingRulesOf,
  type IptablesRunner,
} from "./forwarding-rules.ts";

export const BERTH_NETWORK_NAME = "berth";
/**
 * Sorts after the names network add-ons use (10-calico, 10-flannel, 10-weave...): an add-on
 * installed later wins, as the first valid config in lexical order does.
 */
export const BERTH_NETWORK_FILE = "99-berth.conflist";
export const BERTH_BRIDGE = "berth0";
export const DEFAULT_POD_CIDR = "10.88.0.0/16";

/** Only tests pick other names, so that they never touch a live berth0 or its addresses. */
export interface DefaultNetworkOptions {
  name?: string;
  bridge?: string;
}

/**
 * The subnets of a pod CIDR ("10.88.0.0/16", or "10.88.0.0/16,fd00:88::/64" for dual stack),
 * host bits cleared (host-local refuses a subnet with host bits set), IPv4 first. Empty or
 * undefined means berth's default.
 */
export function podSubnets(podCidr: string | undefined): Cidr[] {
  const text = podCidr?.trim() ? podCidr : DEFAULT_POD_CIDR;
  const subnets = text.split(",").map((part) => {
    const cidr = parseCidr(part.trim());
    if (!cidr) throw invalidArgument(`pod CIDR "${part.trim()}" is not a CIDR`);
    return { ...cidr, address: networkAddress(cidr) };
  });
  return [...subnets.filter((s) => s.family === 4), ...subnets.filter((s) => s.family === 6)];
}

const formatCidr = (cidr: Cidr) => `${cidr.address}/${cidr.prefix}`;

/**
 * berth's own network for nodes without one: a bridge with NAT to the outside, host ports, and
 * traffic shaping.
 *
 * - bridge: the gateway address on the bridge, hairpin so a pod reaches itself through its own
 *   host port or service IP; host-local hands out one address per family (one range set per
 *   family) and a default route per family.
 * - portmap: the portMappings capability (hostPort); snat so that connections from the node to
 *   its own 127.0.0.1:hostPort work (portmap then enables route_localnet on the bridge).
 * - bandwidth: the bandwidth capability (the kubernetes.io/ingress-bandwidth and
 *   egress-bandwidth annotations).
 *
 * Masquerade and the FORWARD rules pods need (Docker sets the FORWARD policy to DROP and
 * br_netfilter sends bridged traffic through it) are berth's own per-subnet rules
 * (forwarding-rules.ts, installed before the first pod by prepareBerthNetwork), not the
 * bridge plugin's ipMasq and the firewall plugin: those add rules per pod, and every rule makes
 * each later iptables call slower, so pod start and teardown grew with the node's pod count.
 *
 * disableCheck: Debian's bandwidth plugin (1.1.1) crashes on CHECK for a pod without limits
 * (nil pointer); the spec names disableCheck for exactly such known-spurious failures. The CRI
 * never asks for CHECK, so nothing is lost.
 */
export function defaultNetworkConfig(
  podCidr: string | undefined,
  options: DefaultNetworkOptions = {},
): Record<string, unknown> {
  const subnets = podSubnets(podCidr);
  const families = ([4, 6] as const).filter((family) => subnets.some((s) => s.family === family));
  return {
    cniVersion: "1.0.0",
    name: options.name ?? BERTH_NETWORK_NAME,
    disableCheck: true,
    plugins: [
      {
        type: "bridge",
        bridge: options.bridge ?? BERTH_BRIDGE,
        isGateway: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: families.map((family) =>
            subnets.filter((s) => s.family === family).map((s) => ({ subnet: formatCidr(s) })),
          ),
          routes: families.map((family) => ({ dst: family === 4 ? "0.0.0.0/0" : "::/0" })),
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "bandwidth", capabilities: { bandwidth: true } },
    ],
  };
}

export function defaultNetworkJson(
  podCidr: string | undefined,
  options?: DefaultNetworkOptions,
): string {
  return `${JSON.stringify(defaultNetworkConfig(podCidr, options), null, 2)}\n`;
}

export type EnsureOutcome =
  | { written: true; file: string }
  | { written: false; network: string; file: string };

/**
 * Writes berth's network into confDir when the directory has no valid config at all (never
 * beside a user's), atomically, so the kubelet and berth never read half a file.
 */
export async function ensureDefaultNetwork(
  confDir: string,
  podCidr: string | undefined,
  options?: DefaultNetworkOptions,
): Promise<EnsureOutcome> {
  const found = await findNetworkConfig(confDir);
  if (!found.ok) return { written: true, file: await writeFile(confDir, podCidr, options) };
  const current = await readOwnFile(confDir, options);
  if (current.state === "own" && found.network.file === join(confDir, BERTH_NETWORK_FILE)) {
    // A file an older berth wrote (with the per-pod firewall and ipMasq rules) becomes
    // today's, for the subnets it has; pods added with the old one are deleted with it (the
    // CNI cache keeps the config of each ADD).
    const subnets = subnetsOf(current.config).join(",");
    if (current.text !== defaultNetworkJson(subnets, options)) {
      return { written: true, file: await writeFile(confDir, subnets, options) };
    }
  }
  return { written: false, network: found.network.name, file: found.network.file };
}

/** Whether a loaded network is berth's own (its file, its name): berth keeps its host rules. */
export function isBerthNetwork(network: CniNetworkList, options?: DefaultNetworkOptions): boolean {
  return (
    basename(network.file) === BERTH_NETWORK_FILE &&
    network.name === (options?.name ?? BERTH_NETWORK_NAME)
  );
}

/**
 * Installs the forwarding and masquerade rules of berth's own network before its first pod
 * (CniPodNetwork's prepare hook); any other network is the user's, set up as they chose.
 */
export async function prepareBerthNetwork(
  network: CniNetworkList,
  options?: DefaultNetworkOptions,
  run?: IptablesRunner,
): Promise<void> {
  if (!isBerthNetwork(network, options)) return;
  const rules = forwardingRulesOf(network);
  if (!rules) throw new Error(`${network.file} has no bridge plugin with host-local subnets`);
  await ensureForwardingRules(rules, run);
}

/**
 * Rewrites berth's own file for a new pod CIDR (UpdateRuntimeConfig). Refuses to replace a
 * file of that name that berth did not write.
 */
export async function writeBerthNetwork(
  confDir: string,
  podCidr: string | undefined,
  options?: DefaultNetworkOptions,
): Promise<string> {
  const current = await readOwnFile(confDir, options);
  if (current.state === "foreign") {
    throw failedPrecondition(
      `${join(confDir, BERTH_NETWORK_FILE)} is not berth's network config; not replacing it`,
    );
  }
  return writeFile(confDir, podCidr, options);
}

/**
 * Whether berth's own file exists and hands out other subnets than `podCidr` would: then the
 * caller rewrites it with writeBerthNetwork. false when there is no such file, or it is not
 * berth's (a user's config is never rewritten).
 */
export async function berthNetworkCidrDiffers(
  confDir: string,
  podCidr: string | undefined,
  options?: DefaultNetworkOptions,
): Promise<boolean> {
  const current = await readOwnFile(confDir, options);
  if (current.state !== "own") return false;
  const want = podSubnets(podCidr).map(formatCidr);
  const have = subnetsOf(current.config);
  return want.length !== have.length || want.some((subnet, i) => subnet !== have[i]);
}

async function writeFile(
  confDir: string,
  podCidr: string | undefined,
  options: DefaultNetworkOptions | undefined,
): Promise<string> {
  const json = defaultNetworkJson(podCidr, options);
  // Other CNI tools and the kubelet read this directory: keep it world-readable, as is usual.
  await mkdir(confDir, { recursive: true, mode: 0o755 });
  const file = join(confDir, BERTH_NETWORK_FILE);
  await writeFileAtomic(file, json, 0o644);
  return file;
}

type OwnFile =
  | { state: "absent" }
  | { state: "foreign" }
  | { state: "own"; config: Record<string, unknown>; text: string };

/** berth's file is the one of its name holding its network name; anything else is the user's. */
async function readOwnFile(
  confDir: string,
  options: DefaultNetworkOptions | undefined,
): Promise<OwnFile> {
  let text: string;
  try {
    text = await readFile(join(confDir, BERTH_NETWORK_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: "absent" };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { state: "foreign" };
  }
  if (
    !parsed ||
    typeof parsed !== "object" ||
    (parsed as { name?: unknown }).name !== (options?.name ?? BERTH_NETWORK_NAME)
  ) {
    return { state: "foreign" };
  }
  return { state: "own", config: parsed as Record<string, unknown>, text };
}

/** The host-local subnets of berth's bridge plugin, in file order. */
function subnetsOf(config: Record<string, unknown>): string[] {
  const plugins = Array.isArray(config.plugins) ? (config.plugins as unknown[]) : [];
  const bridge = plugins.find(
    (p): p is { ipam?: { ranges?: unknown } } =>
      !!p && typeof p === "object" && (p as { type?: unknown }).type === "bridge",
  );
  const ranges = Array.isArray(bridge?.ipam?.ranges) ? (bridge.ipam.ranges as unknown[]) : [];
  const subnets: string[] = [];
  for (const set of ranges) {
    if (!Array.isArray(set)) continue;
    for (const range of set) {
      const subnet = (range as { subnet?: unknown } | null)?.subnet;
      if (typeof subnet === "string") subnets.push(subnet);
    }
  }
  return subnets;
}

/** The CIDR's network address (host bits cleared), in canonical text form. */
export function networkAddress(cidr: Cidr): string {
  if (cidr.family === 4) {
    const octets = cidr.address.split(".").map(Number);
    return octets
      .map((octet, i) => {
        const keep = Math.max(0, Math.min(8, cidr.prefix - i * 8));
        return octet & ((0xff << (8 - keep)) & 0xff);
      })
      .join(".");
  }
  const groups = ipv6Groups(cidr.address).map((group, i) => {
    const keep = Math.max(0, Math.min(16, cidr.prefix - i * 16));
    return group & ((0xffff << (16 - keep)) & 0xffff);
  });
  return formatIpv6(groups);
}

/** The eight 16-bit groups of an IPv6 address already validated by node:net. */
function ipv6Groups(address: string): number[] {
  // An embedded IPv4 tail ("::ffff:10.0.0.1") is two more groups.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_all, a, b, c, d) => {
    const [w, x, y, z] = [a, b, c, d].map(Number) as [number, number, number, number];
    return `${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
  });
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const compressed = text.indexOf("::");
  if (compressed < 0) return parse(text);
  const left = parse(text.slice(0, compressed));
  const right = parse(text.slice(compressed + 2));
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}
