import { readFile } from "node:fs/promises";

/**
 * Reads the Localhost seccomp profiles a config names. A file that cannot be read is left
 * out: the spec builders then refuse the config naming the file (INVALID_ARGUMENT).
 */
export async function readProfiles(paths: string[]): Promise<Map<string, string>> {
  const profiles = new Map<string, string>();
  await Promise.all(
    paths.map(async (path) => {
      try {
        profiles.set(path, await readFile(path, "utf8"));
      } catch {
        // reported by the builder, with the field that named it
      }
    }),
  );
  return profiles;
}
