import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface BuildInfo {
  name: string;
  version: string;
  /** Set by a packaged build (build-info.json); "HEAD" otherwise, as cri-dockerd says then. */
  gitCommit: string;
  preRelease: string;
}

/**
 * berth's name and version come from its package.json, found above this module both in src/
 * and in the built dist/; a package build may add build-info.json beside it
 * (`{"gitCommit": "...", "preRelease": "..."}`).
 */
export function buildInfo(from: string = import.meta.dirname): BuildInfo {
  let dir = from;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name?: string;
    version?: string;
  };
  let extra: { gitCommit?: string; preRelease?: string } = {};
  try {
    extra = JSON.parse(readFileSync(join(dir, "build-info.json"), "utf8"));
  } catch {
    // A development tree has none.
  }
  return {
    name: pkg.name ?? "berth",
    version: pkg.version ?? "dev",
    gitCommit: extra.gitCommit || "HEAD",
    preRelease: extra.preRelease ?? "",
  };
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
