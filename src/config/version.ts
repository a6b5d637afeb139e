import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { getAsset, isSea } from "node:sea";

export interface BuildInfo {
  name: string;
  version: string;
  /** Set by a packaged build (build-info.json); "HEAD" otherwise, as cri-dockerd says then. */
  gitCommit: string;
  preRelease: string;
}

/**
 * berth's name and version come from its package.json, found above this module both in src/
 * and in the built dist/, or from the single executable's assets (scripts/package.sh puts
 * package.json and build-info.json there); a package build adds build-info.json
 * (`{"gitCommit": "...", "preRelease": "..."}`).
 */
export function buildInfo(from: string | undefined = import.meta.dirname): BuildInfo {
  const pkg = parseJson(besideCode("package.json", from)) as { name?: string; version?: string };
  const extra = parseJson(besideCode("build-info.json", from)) as {
    gitCommit?: string;
    preRelease?: string;
  };
  return {
    name: pkg.name ?? "berth",
    version: pkg.version ?? "dev",
    gitCommit: extra.gitCommit || "HEAD",
    preRelease: extra.preRelease ?? "",
  };
}

function besideCode(file: string, from: string | undefined): string | undefined {
  if (isSea()) {
    try {
      return getAsset(file, "utf8");
    } catch {
      return undefined;
    }
  }
  // A bundle without import.meta (the executable's) has no directory to start from.
  if (from === undefined) return undefined;
  let dir = from;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    return readFileSync(join(dir, file), "utf8");
  } catch {
    // A development tree has no build-info.json.
    return undefined;
  }
}

function parseJson(text: string | undefined): object {
  try {
    return text === undefined ? {} : (JSON.parse(text) as object);
  } catch {
    return {};
  }
}

/** `--version`, in cri-dockerd's form: "NAME VERSION[-PRERELEASE] (COMMIT)". */
export function versionText(info: BuildInfo = buildInfo()): string {
  return `${info.name} ${fullVersion(info)}\n`;
}

/** `--buildinfo`, cri-dockerd's lines with Node.js where it names Go. */
export function buildInfoText(info: BuildInfo = buildInfo()): string {
  return [
    `Program: ${info.name}`,
    `Version: ${fullVersion(info)}`,
    `GitCommit: ${info.gitCommit}`,
    `Node.js version: ${process.version}`,
    "",
  ].join("\n");
}

function fullVersion(info: BuildInfo): string {
  const tag = info.preRelease ? `${info.version}-${info.preRelease}` : info.version;
  return `${tag} (${info.gitCommit})`;
}
