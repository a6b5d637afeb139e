import { readFile } from "node:fs/promises";
import { posix } from "node:path";

/**
 * Where a process's cgroups are on this host: cgroup v1 (one hierarchy per controller, also
 * "hybrid" hosts that mount an empty cgroup2 beside them, as Docker 20.10 hosts do) or v2
 * (one unified hierarchy). Found from /proc/self/mountinfo and /proc/<pid>/cgroup, so it
 * holds whatever the cgroup driver (cgroupfs, systemd) and cgroup parent made of the path.
 */

export interface CgroupMount {
  /** Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory. */
  mountpoint: string;
  /** The hierarchy path the mount shows at its mountpoint ("/" unless bind-mounted). */
  root: string;
}

export interface CgroupMounts {
  /** 1 when the v1 hierarchies of cpuacct and memory exist (also on hybrid hosts), else 2. */
  version: 1 | 2;
  /** v1 hierarchies by controller name (cpu, cpuacct, memory, pids, ...). */
  v1: Map<string, CgroupMount>;
  unified: CgroupMount | undefined;
}

/** The directories berth reads a cgroup's statistics from; on v2 all four are the same. */
export interface CgroupDirs {
  version: 1 | 2;
  cpu: string;
  cpuacct: string;
  memory: string;
  pids: string;
}

const V1_CONTROLLERS = ["cpu", "cpuacct", "memory", "pids"] as const;

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

export function parseMountinfo(text: string): CgroupMounts {
  const v1 = new Map<string, CgroupMount>();
  let unified: CgroupMount | undefined;
  for (const line of text.split("\n")) {
    const separator = line.indexOf(" - ");
    if (separator < 0) continue;
    const left = line.slice(0, separator).split(" ");
    const right = line.slice(separator + 3).split(" ");
    const [fstype, , superOptions = ""] = right;
    const root = left[3];
    const mountpoint = left[4];
    if (root === undefined || mountpoint === undefined) continue;
    const mount = { mountpoint: unescapeMountField(mountpoint), root: unescapeMountField(root) };
    if (fstype === "cgroup2") {
      // The first one wins: a later cgroup2 mount is a bind of part of it.
      unified ??= mount;
    } else if (fstype === "cgroup") {
      for (const option of superOptions.split(",")) {
        if (!v1.has(option)) v1.set(option, mount);
      }
    }
  }
  const version = v1.has("memory") && v1.has("cpuacct") ? 1 : 2;
  return { version, v1, unified };
}

export interface ProcCgroupEntry {
  /** Hierarchy id; 0 is the unified hierarchy. */
  hierarchy: number;
  controllers: string[];
  path: string;
}

/** /proc/<pid>/cgroup: "id:controller,controller:/path" per hierarchy. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    entries.push({
      hierarchy: Number(line.slice(0, first)),
      controllers: line
        .slice(first + 1, second)
        .split(",")
        .filter(Boolean),
      path: line.slice(second + 1),
    });
  }
  return entries;
}

/** The directory of a hierarchy path under its mount, or undefined when the mount hides it. */
function dirUnder(mount: CgroupMount, path: string): string | undefined {
  if (mount.root === "/") return posix.join(mount.mountpoint, path);
  if (path === mount.root) return mount.mountpoint;
  if (path.startsWith(`${mount.root}/`)) {
    return posix.join(mount.mountpoint, path.slice(mount.root.length));
  }
  return undefined;
}

/** A process's statistics directories, or undefined when a needed hierarchy is not visible. */
export function cgroupDirsOf(
  mounts: CgroupMounts,
  entries: ProcCgroupEntry[],
): CgroupDirs | undefined {
  if (mounts.version === 2) {
    const entry = entries.find((e) => e.hierarchy === 0 && e.controllers.length === 0);
    const dir = entry && mounts.unified && dirUnder(mounts.unified, entry.path);
    return dir ? { version: 2, cpu: dir, cpuacct: dir, memory: dir, pids: dir } : undefined;
  }
  const dirs: Partial<Record<(typeof V1_CONTROLLERS)[number], string>> = {};
  for (const controller of V1_CONTROLLERS) {
    const entry = entries.find((e) => e.controllers.includes(controller));
    const mount = mounts.v1.get(controller);
    const dir = entry && mount && dirUnder(mount, entry.path);
    // cpu, cpuacct and memory are needed; a kernel without the pids controller still has stats.
    if (!dir && controller !== "pids") return undefined;
    if (dir) dirs[controller] = dir;
  }
  return {
    version: 1,
    cpu: dirs.cpu ?? "",
    cpuacct: dirs.cpuacct ?? "",
    memory: dirs.memory ?? "",
    pids: dirs.pids ?? "",
  };
}

/** The parent cgroup of each directory: a pod's cgroup from one of its containers'. */
export function parentDirs(dirs: CgroupDirs): CgroupDirs {
  const up = (dir: string) => (dir === "" ? "" : posix.dirname(dir));
  return {
    version: dirs.version,
    cpu: up(dirs.cpu),
    cpuacct: up(dirs.cpuacct),
    memory: up(dirs.memory),
    pids: up(dirs.pids),
  };
}

/**
 * Whether the directories are a container's own: Docker names the leaf after the container
 * (cgroupfs: ".../<id>", systemd: ".../docker-<id>.scope"). Guards against a pid reused by
 * another process after the container died and before berth's store caught up.
 */
export function isContainerCgroup(dirs: CgroupDirs, containerId: string): boolean {
  return posix.basename(dirs.memory).includes(containerId);
}

/** Reads the host's cgroup mounts once; they do not change while berth runs. */
export async function readCgroupMounts(mountinfo = "/proc/self/mountinfo"): Promise<CgroupMounts> {
  return parseMountinfo(await readFile(mountinfo, "utf8"));
}

/** The statistics directories of a running process, or undefined (gone, or not visible). */
export async function cgroupDirsOfPid(
  mounts: CgroupMounts,
  pid: number,
  procRoot = "/proc",
): Promise<CgroupDirs | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = await readFile(`${procRoot}/${pid}/cgroup`, "utf8");
  } catch {
    return undefined;
  }
  return cgroupDirsOf(mounts, parseProcCgroup(text));
}
