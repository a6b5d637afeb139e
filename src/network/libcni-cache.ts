import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { readTextIfPresent } from "../util/read-optional.ts";
import { CACHE_KIND, type CniCacheEntry } from "./cni-cache.ts";
import { isResultObject, isStringPairs } from "./cni-result.ts";

/**
 * libcni's own result cache, which cri-dockerd's CNI plugin writes through libcni (0.3 and 0.4
 * vendor libcni 1.x: `cachedInfo` in libcni/api.go) under its --cni-cache-dir, by default
 * /var/lib/cni/cache: results/<network>-<container id>-<ifname>, one JSON object with the
 * network config list as base64 bytes. cri-dockerd attaches each pod twice, to its network on
 * eth0 and to its built-in "cni-loopback" network on lo.
 */
export const LIBCNI_CACHE_KIND = "cniCacheV1";

export interface LibcniCacheEntry {
  containerId: string;
  networkName: string;
  ifName: string;
  /** The network config list's JSON, as libcni cached its bytes. */
  config: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  result: Record<string, unknown> | undefined;
}

export function libcniCachePath(
  cacheDir: string,
  network: string,
  containerId: string,
  ifName: string,
): string {
  return join(cacheDir, "results", `${network}-${containerId}-${ifName}`);
}

/** Go's json.Marshal of libcni's cachedInfo, field for field. */
export function formatLibcniCacheEntry(entry: LibcniCacheEntry): string {
  return JSON.stringify({
    kind: LIBCNI_CACHE_KIND,
    containerId: entry.containerId,
    config: Buffer.from(entry.config, "utf8").toString("base64"),
    ifName: entry.ifName,
    networkName: entry.networkName,
    ...(entry.cniArgs.length > 0 ? { cniArgs: entry.cniArgs } : {}),
    ...(Object.keys(entry.capabilityArgs).length > 0
      ? { capabilityArgs: entry.capabilityArgs }
      : {}),
    ...(entry.result ? { result: entry.result } : {}),
  });
}

export async function writeLibcniCacheEntry(
  cacheDir: string,
  entry: LibcniCacheEntry,
): Promise<string> {
  const path = libcniCachePath(cacheDir, entry.networkName, entry.containerId, entry.ifName);
  await writeFileAtomic(path, formatLibcniCacheEntry(entry));
  return path;
}

/** The entry, or why the file cannot be used. */
export function parseLibcniCacheEntry(text: string): LibcniCacheEntry | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (!isResultObject(parsed) || parsed.kind !== LIBCNI_CACHE_KIND)
    return `kind is not ${LIBCNI_CACHE_KIND}`;
  for (const key of ["containerId", "config", "ifName", "networkName"] as const) {
    if (typeof parsed[key] !== "string" || parsed[key] === "") return `no "${key}"`;
  }
  const config = Buffer.from(parsed.config as string, "base64").toString("utf8");
  try {
    if (!isResultObject(JSON.parse(config))) return "config is not a JSON object";
  } catch {
    return "config is not base64 of JSON";
  }
  const args = parsed.cniArgs ?? [];
  if (!isStringPairs(args)) return '"cniArgs" is not a list of [key, value] strings';
  const capabilityArgs = parsed.capabilityArgs ?? {};
  if (!isResultObject(capabilityArgs)) return '"capabilityArgs" is not an object';
  if (parsed.result !== undefined && !isResultObject(parsed.result))
    return '"result" is not an object';
  return {
    containerId: parsed.containerId as string,
    networkName: parsed.networkName as string,
    ifName: parsed.ifName as string,
    config,
    cniArgs: args as Array<[string, string]>,
    capabilityArgs,
    result: parsed.result as Record<string, unknown> | undefined,
  };
}

/**
 * berth's cache entry for an attachment libcni made: DEL then runs with the config, arguments
 * and result of cri-dockerd's ADD, in the pod's (pinned) namespace. The result's interfaces
 * inside the pod name that namespace as it is now reached: the bridge plugin's CHECK compares
 * their "sandbox" with CNI_NETNS literally, and cri-dockerd's /proc/<pid>/ns/net is not the pin.
 */
export function toBerthCacheEntry(
  entry: LibcniCacheEntry,
  file: string,
  netnsPath: string,
): CniCacheEntry {
  const raw = JSON.parse(entry.config) as Record<string, unknown>;
  return {
    kind: CACHE_KIND,
    network: entry.networkName,
    containerId: entry.containerId,
    ifName: entry.ifName,
    netnsPath,
    cniVersion: typeof raw.cniVersion === "string" ? raw.cniVersion : "0.2.0",
    config: { file, raw },
    cniArgs: entry.cniArgs,
    capabilityArgs: entry.capabilityArgs,
    state: "added",
    result:
      entry.result && netnsPath !== ""
        ? inNamespace(entry.result, netnsPath)
        : (entry.result ?? null),
  };
}

function inNamespace(result: Record<string, unknown>, netnsPath: string): Record<string, unknown> {
  if (!Array.isArray(result.interfaces)) return result;
  return {
    ...result,
    interfaces: result.interfaces.map((item: unknown) =>
      isResultObject(item) && typeof item.sandbox === "string" && item.sandbox !== ""
        ? { ...item, sandbox: netnsPath }
        : item,
    ),
  };
}

/** Every libcni cache file of one container: its path and entry, or why it is unusable. */
export async function listLibcniCacheEntries(
  cacheDir: string,
  containerId: string,
): Promise<Array<{ path: string; entry: LibcniCacheEntry | string }>> {
  const dir = join(cacheDir, "results");
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found: Array<{ path: string; entry: LibcniCacheEntry | string }> = [];
  for (const name of names.sort()) {
    if (!name.includes(`-${containerId}-`)) continue;
    const path = join(dir, name);
    const text = await readTextIfPresent(path);
    if (text === undefined) continue;
    const entry = parseLibcniCacheEntry(text);
    // The name alone could match another container's id as a network name's part.
    if (typeof entry !== "string" && entry.containerId !== containerId) continue;
    found.push({ path, entry });
  }
  return found;
}

/** Removes a container's libcni cache files once berth ran their DEL. */
export async function removeLibcniCacheEntries(
  cacheDir: string,
  containerId: string,
): Promise<void> {
  for (const { path } of await listLibcniCacheEntries(cacheDir, containerId)) {
    await rm(path, { force: true });
  }
}
