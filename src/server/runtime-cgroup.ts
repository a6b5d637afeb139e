import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A mounted cgroup hierarchy: v1 (one per controller set) or the v2 unified one. */
export interface CgroupHierarchy {
  mountPoint: string;
  /** v1 controllers as mounted (`cpu,cpuacct`, `name=systemd`); empty for v2. */
  controllers: string[];
  version: 1 | 2;
}

/**
 * The cgroup hierarchies of /proc/self/mountinfo, each once (a hierarchy mounted twice, as
 * bind mounts do, is one hierarchy).
 */
export function cgroupHierarchies(mountinfo: string): CgroupHierarchy[] {
  const found = new Map<string, CgroupHierarchy>();
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (!before || !after) continue;
    const mountPoint = unescapeMountPath(before.split(" ")[4] ?? "");
    const [fsType, , superOptions = ""] = after.split(" ");
    if (fsType === "cgroup2") {
      if (!found.has("v2")) found.set("v2", { mountPoint, controllers: [], version: 2 });
    } else if (fsType === "cgroup") {
      const controllers = superOptions
        .split(",")
        .filter((option) => !["rw", "ro"].includes(option) && !option.startsWith("release_agent"))
        .filter((option) => !["clone_children", "noprefix", "xattr"].includes(option))
        .sort();
      const key = controllers.join(",");
      if (!found.has(key)) found.set(key, { mountPoint, controllers, version: 1 });
    }
  }
  return [...found.values()];
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/**
 * --runtime-cgroups: moves `pid` (berth) into the cgroup `name` of every mounted hierarchy,
 * creating it where missing; answers the cgroup.procs files written. A new v1 cpuset cgroup
 * gets its parent's cpus and mems first, without which the kernel refuses any process.
 */
export async function joinRuntimeCgroup(
  name: string,
  pid: number = process.pid,
  mountinfo?: string,
): Promise<string[]> {
  if (!name.startsWith("/")) throw new Error(`--runtime-cgroups ${name}: not an absolute name`);
  const hierarchies = cgroupHierarchies(
    mountinfo ?? (await readFile("/proc/self/mountinfo", "utf8")),
  );
  if (hierarchies.length === 0) throw new Error("no cgroup hierarchy is mounted");
  const written: string[] = [];
  for (const hierarchy of hierarchies) {
    const dir = join(hierarchy.mountPoint, name);
    await mkdir(dir, { recursive: true });
    if (hierarchy.controllers.includes("cpuset")) await inheritCpuset(hierarchy.mountPoint, name);
    const procs = join(dir, "cgroup.procs");
    try {
      await writeFile(procs, `${pid}\n`);
    } catch (err) {
      throw new Error(
        `--runtime-cgroups ${name}: cannot move pid ${pid} into ${procs}: ${(err as Error).message}`,
      );
    }
    written.push(procs);
  }
  return written;
}

async function inheritCpuset(mountPoint: string, name: string): Promise<void> {
  const parts = name.split("/").filter(Boolean);
  for (let depth = 1; depth <= parts.length; depth++) {
    const dir = join(mountPoint, ...parts.slice(0, depth));
    const parent = join(mountPoint, ...parts.slice(0, depth - 1));
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      const own = await readFile(join(dir, file), "utf8").catch(() => undefined);
      if (own === undefined || own.trim() !== "") continue;
      const inherited = await readFile(join(parent, file), "utf8");
      await writeFile(join(dir, file), inherited.trim());
    }
  }
}
