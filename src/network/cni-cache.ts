import { readdir, readFile, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { readTextIfPresent } from "../util/read-optional.ts";
import { isResultObject, isStringPairs } from "./cni-result.ts";

export const CACHE_KIND = "berthCniCacheV1";

/**
 * What an ADD used and returned, kept so that DEL and CHECK see the same attachment even after
 * berth restarts or the config directory changes. The spec keys plugin state by
 * (network name, CNI_CONTAINERID, CNI_IFNAME); so does this file.
 */
export interface CniCacheEntry {
  kind: typeof CACHE_KIND;
  network: string;
  containerId: string;
  ifName: string;
  netnsPath: string;
  /** The spec version chosen for the attachment; every later call must speak the same. */
  cniVersion: string;
  /** The network config the ADD ran with, as read from its file. */
  config: { file: string; raw: Record<string, unknown> };
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /**
   * "adding" from before the first plugin runs, so that a crash or a failed rollback still
   * leaves DEL the config and arguments to undo it; "added" once every plugin succeeded.
   */
  state: "adding" | "added";
  /** The final ADD result; while "adding", the last one known, if any. */
  result: Record<string, unknown> | null;
}

/**
 * results/<network>/<container id>/<ifname>.json: one directory level per key part, as the
 * parts may contain "-" (a flat "a-b-c" name would be ambiguous). Each part is validated before
 * it gets here: none can be "", "." or "..", nor hold a "/".
 */
export function cacheFilePath(
  cacheDir: string,
  network: string,
  containerId: string,
  ifName: string,
): string {
  return join(cacheDir, "results", network, containerId, `${ifName}.json`);
}

export async function writeCacheEntry(cacheDir: string, entry: CniCacheEntry): Promise<void> {
  const path = cacheFilePath(cacheDir, entry.network, entry.containerId, entry.ifName);
  await writeFileAtomic(path, `${JSON.stringify(entry, null, 2)}\n`);
}

/** undefined when there is none; throws when the file is there but unusable. */
export async function readCacheEntry(
  cacheDir: string,
  network: string,
  containerId: string,
  ifName: string,
): Promise<CniCacheEntry | undefined> {
  const path = cacheFilePath(cacheDir, network, containerId, ifName);
  const text = await readTextIfPresent(path);
  return text === undefined ? undefined : parseCacheEntry(text, path);
}

export function parseCacheEntry(text: string, path: string): CniCacheEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`CNI cache file ${path} is not JSON: ${(err as Error).message}`);
  }
  const bad = (what: string) => new Error(`CNI cache file ${path} is unusable: ${what}`);
  if (!isResultObject(parsed) || parsed.kind !== CACHE_KIND) throw bad(`kind is not ${CACHE_KIND}`);
  for (const key of ["network", "containerId", "ifName", "netnsPath", "cniVersion"] as const) {
    if (typeof parsed[key] !== "string") throw bad(`"${key}" is not a string`);
  }
  const config = parsed.config;
  if (!isResultObject(config) || typeof config.file !== "string" || !isResultObject(config.raw)) {
    throw bad('"config" is not {file, raw}');
  }
  const args = parsed.cniArgs;
  if (!isStringPairs(args)) {
    throw bad('"cniArgs" is not a list of [key, value] strings');
  }
  if (!isResultObject(parsed.capabilityArgs)) throw bad('"capabilityArgs" is not an object');
  if (parsed.state !== "adding" && parsed.state !== "added") throw bad('"state" is unknown');
  if (parsed.result !== null && !isResultObject(parsed.result))
    throw bad('"result" is not an object');
  return parsed as unknown as CniCacheEntry;
}

/** Removes the entry and the directories it leaves empty; absent is fine (DEL is idempotent). */
export async function removeCacheEntry(
  cacheDir: string,
  network: string,
  containerId: string,
  ifName: string,
): Promise<void> {
  const path = cacheFilePath(cacheDir, network, containerId, ifName);
  await rm(path, { force: true });
  // Each fails while another attachment still lives there, which is the point.
  await rmdir(join(cacheDir, "results", network, containerId)).catch(() => {});
  await rmdir(join(cacheDir, "results", network)).catch(() => {});
}

/**
 * Every cached attachment of a container, whatever network it was made on: what a sandbox
 * teardown must undo when the configured network changed since its ADD. Unreadable entries are
 * reported as problems rather than hidden.
 */
export async function listCacheEntries(
  cacheDir: string,
  containerId: string,
): Promise<{ entries: CniCacheEntry[]; problems: string[] }> {
  const entries: CniCacheEntry[] = [];
  const problems: string[] = [];
  let networks: string[];
  try {
    networks = await readdir(join(cacheDir, "results"));
  } catch {
    return { entries, problems };
  }
  for (const network of networks.sort()) {
    const dir = join(cacheDir, "results", network, containerId);
    let files: string[];
    try {
      files = await readdir(dir);
    } catch {
      continue;
    }
    for (const file of files.sort()) {
      if (!file.endsWith(".json")) continue;
      const path = join(dir, file);
      try {
        entries.push(parseCacheEntry(await readFile(path, "utf8"), path));
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
  }
  return { entries, problems };
}
