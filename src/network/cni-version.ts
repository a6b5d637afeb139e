import { failedPrecondition } from "../errors.ts";

/**
 * The CNI spec versions berth speaks. 0.1.0 and 0.2.0 results have another shape (ip4/ip6) and
 * no chaining; nothing current emits them, so they are refused rather than translated.
 */
export const SUPPORTED_CNI_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** -1, 0 or 1 as a is older, the same as or newer than b; malformed parts count as 0. */
export function compareCniVersions(a: string, b: string): number {
  const pa = a.split(".").map((part) => Number.parseInt(part, 10) || 0);
  const pb = b.split(".").map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff < 0 ? -1 : 1;
  }
  return 0;
}

export const atLeast = (version: string, minimum: string) =>
  compareCniVersions(version, minimum) >= 0;

export function isSupportedCniVersion(version: string): boolean {
  return (SUPPORTED_CNI_VERSIONS as readonly string[]).includes(version);
}

/**
 * The versions a config declares (`cniVersion`, and since 1.1.0 `cniVersions`) that berth can
 * speak, newest first. Throws when there is none: the spec leaves no way to talk to the plugins.
 */
export function candidateVersions(raw: Record<string, unknown>, file: string): string[] {
  const declared = new Set<string>();
  if (typeof raw.cniVersion === "string") declared.add(raw.cniVersion);
  if (Array.isArray(raw.cniVersions)) {
    for (const version of raw.cniVersions) if (typeof version === "string") declared.add(version);
  }
  // cni-config.ts reads a missing cniVersion as 0.1.0, as libcni does.
  if (declared.size === 0) declared.add("0.1.0");
  const usable = [...declared].filter(isSupportedCniVersion);
  if (usable.length === 0) {
    throw failedPrecondition(
      `CNI config ${file} declares CNI version ${[...declared].join(", ")}; berth supports ` +
        `${SUPPORTED_CNI_VERSIONS.join(", ")} (set "cniVersion" to one of these)`,
    );
  }
  return usable.sort((a, b) => compareCniVersions(b, a));
}

/**
 * The spec has the runtime pick the highest version the config declares, and lets it consider
 * what the plugins report: the newest candidate every plugin supports, else the newest one
 * (whose plugins will then refuse with a clear error of their own).
 */
export function chooseVersion(candidates: string[], pluginVersions: Array<string[] | undefined>) {
  for (const candidate of candidates) {
    if (pluginVersions.every((supported) => !supported || supported.includes(candidate))) {
      return candidate;
    }
  }
  return candidates[0] as string;
}
