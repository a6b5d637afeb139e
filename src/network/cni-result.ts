import { isIP } from "node:net";

/** One address of the pod, from a CNI result's `ips`. */
export interface PodIp {
  /** Without the prefix length, as the CRI reports pod IPs. */
  address: string;
  prefixLength: number;
  family: 4 | 6;
  gateway?: string;
}

interface ResultInterface {
  name?: unknown;
  sandbox?: unknown;
}

interface ResultIp {
  address?: unknown;
  gateway?: unknown;
  interface?: unknown;
}

/** A plugin's ADD output must be a JSON object; anything else is a broken plugin. */
export function isResultObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

/** libcni's CNI_ARGS as its cache keeps them: a list of [key, value] string pairs. */
export function isStringPairs(value: unknown): value is Array<[string, string]> {
  return (
    Array.isArray(value) &&
    value.every(
      (pair) =>
        Array.isArray(pair) &&
        pair.length === 2 &&
        typeof pair[0] === "string" &&
        typeof pair[1] === "string",
    )
  );
}

/**
 * The pod's addresses from the final ADD result, IPv4 first (the CRI's primary pod IP, as
 * dual-stack Kubernetes expects), each family in result order.
 *
 * The `ips` list has the same shape in 0.3.x, 0.4.0 and 1.x except for 0.3.x/0.4.0's `version`
 * field, so the family is read from the address itself. An entry whose `interface` index names
 * a host-side interface (no `sandbox`) is not the pod's; entries without an index are kept, as
 * IPAM-style results have none. When the container interface `ifName` is named, its addresses
 * win over those of other sandbox interfaces.
 */
export function podIpsFromResult(result: unknown, ifName?: string): PodIp[] {
  if (!isResultObject(result) || !Array.isArray(result.ips)) return [];
  const interfaces: ResultInterface[] = Array.isArray(result.interfaces)
    ? (result.interfaces as unknown[]).map((i) => (isResultObject(i) ? i : {}))
    : [];
  const candidates: Array<{ ip: PodIp; ifName: string | undefined }> = [];
  for (const entry of result.ips as unknown[]) {
    if (!isResultObject(entry)) continue;
    const { address, gateway, interface: index } = entry as ResultIp;
    let name: string | undefined;
    if (typeof index === "number") {
      const iface = interfaces[index];
      // An index past the list says nothing about where the address lives: keep it.
      if (iface) {
        if (typeof iface.sandbox !== "string" || iface.sandbox === "") continue;
        if (typeof iface.name === "string") name = iface.name;
      }
    }
    const ip = parseCidrAddress(address);
    if (!ip) continue;
    if (typeof gateway === "string" && isIP(gateway) !== 0) ip.gateway = gateway;
    candidates.push({ ip, ifName: name });
  }
  const own = ifName ? candidates.filter((c) => c.ifName === ifName) : [];
  const chosen = (own.length > 0 ? own : candidates).map((c) => c.ip);
  const seen = new Set<string>();
  const unique = chosen.filter((ip) => !seen.has(ip.address) && seen.add(ip.address));
  return [...unique.filter((ip) => ip.family === 4), ...unique.filter((ip) => ip.family === 6)];
}

function parseCidrAddress(value: unknown): PodIp | undefined {
  if (typeof value !== "string") return undefined;
  const slash = value.indexOf("/");
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefixLength = slash < 0 ? max : Number(value.slice(slash + 1));
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) return undefined;
  return { address, prefixLength, family: family as 4 | 6 };
}

/** The plugin error object of the spec: `{cniVersion, code, msg, details}` on stdout. */
export interface CniErrorOutput {
  code?: number;
  msg?: string;
  details?: string;
}

export function parseErrorOutput(stdout: string): CniErrorOutput | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isResultObject(parsed)) return undefined;
  const out: CniErrorOutput = {};
  if (typeof parsed.code === "number") out.code = parsed.code;
  if (typeof parsed.msg === "string") out.msg = parsed.msg;
  if (typeof parsed.details === "string") out.details = parsed.details;
  return out.code === undefined && out.msg === undefined ? undefined : out;
}
