import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** A CNI network configuration list as found on disk (single configs are wrapped). */
export interface CniNetworkList {
  cniVersion: string;
  name: string;
  plugins: Array<{ type: string; [key: string]: unknown }>;
  disableCheck?: boolean;
  file: string;
  /** The raw JSON, as plugins receive parts of it. */
  raw: Record<string, unknown>;
}

export type CniConfigLookup = { ok: true; network: CniNetworkList } | { ok: false; reason: string };

const CONFIG_EXTENSIONS = [".conf", ".conflist", ".json"];

/**
 * The first valid network config in the directory, in lexical file-name order, as libcni
 * and the kubelet's dockershim chose it. Invalid files are skipped, and named in the reason
 * when none is usable.
 */
export async function findNetworkConfig(dir: string): Promise<CniConfigLookup> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) =>
      CONFIG_EXTENSIONS.some((ext) => name.endsWith(ext)),
    );
  } catch (err) {
    return {
      ok: false,
      reason: `cannot read CNI config directory ${dir}: ${(err as Error).message}`,
    };
  }
  names.sort();
  const problems: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const parsed = parseNetworkConfig(await readFile(file, "utf8"), file);
      return { ok: true, network: parsed };
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  if (names.length === 0) return { ok: false, reason: `no CNI network config found in ${dir}` };
  return { ok: false, reason: `no valid CNI network config in ${dir} (${problems.join("; ")})` };
}

export function parseNetworkConfig(text: string, file: string): CniNetworkList {
  const raw: unknown = JSON.parse(text);
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("not a JSON object");
  const config = raw as Record<string, unknown>;
  const name = config.name;
  if (typeof name !== "string" || name === "") throw new Error('missing "name"');
  const cniVersion = typeof config.cniVersion === "string" ? config.cniVersion : "0.1.0";
  let plugins: CniNetworkList["plugins"];
  if (file.endsWith(".conflist") || Array.isArray(config.plugins)) {
    if (!Array.isArray(config.plugins) || config.plugins.length === 0) {
      throw new Error('a .conflist needs a non-empty "plugins" list');
    }
    plugins = config.plugins.map((plugin, index) => {
      if (!plugin || typeof plugin !== "object" || typeof plugin.type !== "string") {
        throw new Error(`plugin ${index} has no "type"`);
      }
      return plugin as CniNetworkList["plugins"][number];
    });
  } else {
    if (typeof config.type !== "string") throw new Error('missing "type"');
    plugins = [config as CniNetworkList["plugins"][number]];
  }
  return {
    cniVersion,
    name,
    plugins,
    disableCheck: config.disableCheck === true,
    file,
    raw: config,
  };
}
