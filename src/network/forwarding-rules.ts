import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type Cidr, parseCidr } from "./cidr.ts";
import type { CniNetworkList } from "./cni-config.ts";

const exec = promisify(execFile);
const IPTABLES_TIMEOUT_MS = 30_000;

/**
 * What berth's default network needs from the host firewall, set once per bridge instead of
 * once per pod: the firewall plugin's ACCEPT rules and the bridge plugin's ipMasq chains are
 * per pod, and with iptables-nft every rule added makes each later iptables call slower, so
 * pod start and teardown grew with the number of pods.
 */
export interface ForwardingRules {
  bridge: string;
  /** The pod subnets on that bridge, IPv4 first. */
  subnets: Cidr[];
}

/** Runs iptables (or its -restore); answers its stdout. */
export type IptablesRunner = (command: string, args: string[], input?: string) => Promise<string>;

/** One chain per bridge and table; bridge names have at most 15 characters, chains 28. */
export function chainNames(bridge: string): { forward: string; masquerade: string } {
  return { forward: `BERTH-FWD-${bridge}`, masquerade: `BERTH-MASQ-${bridge}` };
}

/** The bridge and host-local subnets of a config list's bridge plugin, when it has one. */
export function forwardingRulesOf(network: CniNetworkList): ForwardingRules | undefined {
  const bridge = network.plugins.find((plugin) => plugin.type === "bridge") as
    | { bridge?: unknown; ipam?: { ranges?: unknown } }
    | undefined;
  if (typeof bridge?.bridge !== "string" || bridge.bridge === "") return undefined;
  const subnets: Cidr[] = [];
  for (const set of Array.isArray(bridge.ipam?.ranges) ? bridge.ipam.ranges : []) {
    for (const range of Array.isArray(set) ? set : []) {
      const text = (range as { subnet?: unknown } | null)?.subnet;
      const cidr = typeof text === "string" ? parseCidr(text) : undefined;
      if (cidr) subnets.push(cidr);
    }
  }
  if (subnets.length === 0) return undefined;
  return { bridge: bridge.bridge, subnets: [...subnets].sort((a, b) => a.family - b.family) };
}

/**
 * iptables-restore input (with --noflush) that fills both chains for one address family.
 * Declaring a chain empties it, so a new pod CIDR replaces the old rules in one commit.
 *
 * - filter: the firewall plugin's rules, for the subnet instead of each pod's address: what
 *   pods send from the bridge is accepted (to each other, the node's other networks and
 *   beyond: Docker's FORWARD policy is DROP), and what comes back to them on connections they
 *   opened. Nothing else reaches a pod through FORWARD, as before.
 * - nat: the bridge plugin's ipMasq, for the subnet: traffic between pods keeps its address,
 *   everything else leaving the pod subnet is masqueraded, multicast excepted.
 */
export function restoreInput(rules: ForwardingRules, family: 4 | 6): string {
  const { forward, masquerade } = chainNames(rules.bridge);
  const subnets = rules.subnets
    .filter((subnet) => subnet.family === family)
    .map((subnet) => `${subnet.address}/${subnet.prefix}`);
  const multicast = family === 4 ? "224.0.0.0/4" : "ff00::/8";
  const comment = `-m comment --comment "berth: pods on ${rules.bridge}"`;
  return [
    "*filter",
    `:${forward} - [0:0]`,
    ...subnets.flatMap((subnet) => [
      `-A ${forward} -s ${subnet} -i ${rules.bridge} ${comment} -j ACCEPT`,
      `-A ${forward} -d ${subnet} -o ${rules.bridge} -m conntrack --ctstate RELATED,ESTABLISHED ${comment} -j ACCEPT`,
    ]),
    "COMMIT",
    "*nat",
    `:${masquerade} - [0:0]`,
    ...subnets.flatMap((subnet) => [
      `-A ${masquerade} -s ${subnet} -d ${subnet} ${comment} -j RETURN`,
      `-A ${masquerade} -s ${subnet} ! -d ${multicast} ${comment} -j MASQUERADE`,
    ]),
    "COMMIT",
    "",
  ].join("\n");
}

/** The jumps into berth's chains: a chain nobody jumps to does nothing. */
function jumps(bridge: string): Array<{ table: string; chain: string; target: string }> {
  const { forward, masquerade } = chainNames(bridge);
  return [
    { table: "filter", chain: "FORWARD", target: forward },
    { table: "nat", chain: "POSTROUTING", target: masquerade },
  ];
}

const binaries = (family: 4 | 6) =>
  family === 4
    ? { iptables: "iptables", restore: "iptables-restore" }
    : { iptables: "ip6tables", restore: "ip6tables-restore" };

/** The subnets the bridge's FORWARD chain accepts now (none when the chain does not exist). */
async function acceptedSubnets(
  bridge: string,
  iptables: string,
  run: IptablesRunner,
): Promise<Cidr[]> {
  const { forward } = chainNames(bridge);
  const listing = await run(iptables, ["-w", "-t", "filter", "-S", forward]).catch(() => "");
  const subnets: Cidr[] = [];
  for (const line of listing.split("\n")) {
    const match = new RegExp(`^-A ${forward} -s (\\S+) -i ${bridge} `).exec(line);
    const cidr = match?.[1] ? parseCidr(match[1]) : undefined;
    if (cidr) subnets.push(cidr);
  }
  return subnets;
}

/**
 * Installs (or refreshes) the rules, idempotently: the chains are refilled in one commit per
 * family, the jumps added only when missing. FORWARD's jump goes first, where the firewall
 * plugin put its own, ahead of the DROP policy; Docker's chains there only match its bridges.
 * Subnets the chains already serve are kept: after a pod CIDR change the pods of the old one
 * still run until the kubelet replaces them.
 */
export async function ensureForwardingRules(
  rules: ForwardingRules,
  run: IptablesRunner = runIptables,
): Promise<void> {
  for (const family of [4, 6] as const) {
    if (!rules.subnets.some((subnet) => subnet.family === family)) continue;
    const bin = binaries(family);
    const text = (cidr: Cidr) => `${cidr.address}/${cidr.prefix}`;
    const wanted = new Set(rules.subnets.map(text));
    const kept = (await acceptedSubnets(rules.bridge, bin.iptables, run)).filter(
      (cidr) => cidr.family === family && !wanted.has(text(cidr)),
    );
    const merged = { bridge: rules.bridge, subnets: [...rules.subnets, ...kept] };
    await run(bin.restore, ["-w", "--noflush"], restoreInput(merged, family));
    for (const jump of jumps(rules.bridge)) {
      const present = await run(bin.iptables, [
        "-w",
        "-t",
        jump.table,
        "-C",
        jump.chain,
        "-j",
        jump.target,
      ]).then(
        () => true,
        () => false,
      );
      if (present) continue;
      await run(
        bin.iptables,
        jump.chain === "FORWARD"
          ? ["-w", "-t", jump.table, "-I", jump.chain, "1", "-j", jump.target]
          : ["-w", "-t", jump.table, "-A", jump.chain, "-j", jump.target],
      );
    }
  }
}

/** Takes the jumps and chains of a bridge away again (tests; a node leaving berth's network). */
export async function removeForwardingRules(
  bridge: string,
  run: IptablesRunner = runIptables,
): Promise<void> {
  const ignore = () => {};
  for (const family of [4, 6] as const) {
    const bin = binaries(family);
    for (const jump of jumps(bridge)) {
      const rule = ["-w", "-t", jump.table, "-D", jump.chain, "-j", jump.target];
      // Deleted until none is left, in case two were ever added.
      while (
        await run(bin.iptables, rule).then(
          () => true,
          () => false,
        )
      ) {}
      await run(bin.iptables, ["-w", "-t", jump.table, "-F", jump.target]).catch(ignore);
      await run(bin.iptables, ["-w", "-t", jump.table, "-X", jump.target]).catch(ignore);
    }
  }
}

async function runIptables(command: string, args: string[], input?: string): Promise<string> {
  const child = exec(command, args, { timeout: IPTABLES_TIMEOUT_MS });
  if (input !== undefined) child.child.stdin?.end(input);
  try {
    return (await child).stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(`${command} ${args.join(" ")}: ${stderr || (err as Error).message}`);
  }
}
