import { type CniConfigLookup, findNetworkConfig } from "../network/cni-config.ts";
import { findPlugin } from "../network/cni-exec.ts";
import {
  BERTH_BRIDGE,
  BERTH_NETWORK_FILE,
  defaultNetworkConfig,
  isBerthNetwork,
} from "../network/default-network.ts";
import { chainNames, forwardingRulesOf } from "../network/forwarding-rules.ts";
import type { CheckResult } from "./check.ts";

export interface CniFacts {
  confDir: string;
  binDirs: string[];
  lookup: CniConfigLookup;
  /** berth writes its default network into a directory without a valid config. */
  defaultNetwork: boolean;
  /** The plugin types the network berth would use runs (delegated IPAM included). */
  plugins: Array<{ type: string; path: string | undefined }>;
}

export async function gatherCniFacts(
  confDir: string,
  binDirs: string[],
  defaultNetwork: boolean,
): Promise<CniFacts> {
  const lookup = await findNetworkConfig(confDir);
  const pluginList = lookup.ok
    ? lookup.network.plugins
    : defaultNetwork
      ? (defaultNetworkConfig(undefined).plugins as CniFacts["plugins"])
      : [];
  const types = new Set<string>();
  for (const plugin of pluginList as Array<{ type: string; ipam?: { type?: unknown } }>) {
    types.add(plugin.type);
    if (typeof plugin.ipam?.type === "string") types.add(plugin.ipam.type);
  }
  const plugins = await Promise.all(
    [...types].map(async (type) => ({
      type,
      path: await findPlugin(type, binDirs).catch(() => undefined),
    })),
  );
  return { confDir, binDirs, lookup, defaultNetwork, plugins };
}

/** What lets the pods' traffic through FORWARD when Docker's DROP policy is in place. */
export function podForwardAcceptedBy(facts: CniFacts): string | undefined {
  if (facts.plugins.some((plugin) => plugin.type === "firewall")) return "the firewall plugin";
  const { lookup } = facts;
  if (lookup.ok ? !isBerthNetwork(lookup.network) : !facts.defaultNetwork) return undefined;
  const bridge = (lookup.ok && forwardingRulesOf(lookup.network)?.bridge) || BERTH_BRIDGE;
  return `berth's ${chainNames(bridge).forward} chain`;
}

export function evaluateCniConfig(facts: CniFacts): CheckResult {
  if (facts.lookup.ok) {
    const { network } = facts.lookup;
    return {
      name: "cni-config",
      status: "ok",
      detail: `network ${network.name} (CNI ${network.cniVersion}) from ${network.file}`,
    };
  }
  if (facts.defaultNetwork) {
    return {
      name: "cni-config",
      status: "warn",
      detail: `${facts.lookup.reason}; berth writes its default bridge network (${BERTH_NETWORK_FILE}) there at start`,
      fix: `to use your own network, put its .conflist into ${facts.confDir}`,
    };
  }
  return {
    name: "cni-config",
    status: "fail",
    detail: `${facts.lookup.reason}: pods cannot get a network (Status reports NetworkReady=false)`,
    fix: `put a network config (.conflist) into ${facts.confDir}, or let berth write its default bridge network (drop --no-default-network)`,
  };
}

export function evaluateCniPlugins(facts: CniFacts): CheckResult {
  const dirs = facts.binDirs.join(":");
  if (facts.plugins.length === 0) {
    return {
      name: "cni-plugins",
      status: "info",
      detail: "no network config, so no plugins to look for",
    };
  }
  const missing = facts.plugins.filter((plugin) => plugin.path === undefined).map((p) => p.type);
  if (missing.length > 0) {
    return {
      name: "cni-plugins",
      status: "fail",
      detail: `not found in ${dirs}: ${missing.join(", ")}`,
      fix: `install the CNI plugins (apt-get install containernetworking-plugins puts them in /usr/lib/cni), or name their directory with --cni-bin-dir`,
    };
  }
  const found = facts.plugins.map((plugin) => plugin.type).join(", ");
  return { name: "cni-plugins", status: "ok", detail: `${found} found in ${dirs}` };
}
