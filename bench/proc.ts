import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the command: state is field 3, utime field 14, stime field 15 (1-based).
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Resident memory of a process in MiB (0 once it is gone). */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return kib / 1024;
  } catch {
    return 0;
  }
}

function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number);
  } catch {
    return [];
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

export const commOf = (pid: number) => readOr(`/proc/${pid}/comm`, "").trim();
export const argvOf = (pid: number) => readOr(`/proc/${pid}/cmdline`, "").split("\0");
const parentOf = (pid: number) => {
  const stat = readOr(`/proc/${pid}/stat`, "");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? 0);
};

/**
 * The process listening on a unix socket path: the socket's inode from /proc/net/unix, then
 * the process holding a descriptor on it. With several engines on one machine this is the
 * only reliable way to tell which dockerd or containerd serves which socket.
 */
export function socketOwner(path: string): number | undefined {
  const listening = readOr("/proc/net/unix", "")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    // Num RefCount Protocol Flags Type St Inode Path; flag 00010000 is a listening socket.
    .filter((fields) => fields[3] === "00010000" && fields[7] !== undefined);
  let inodes = new Set(listening.filter((f) => f[7] === path).map((f) => f[6] as string));
  if (inodes.size === 0) {
    // cri-dockerd binds a temporary name beside the path and renames it: /proc/net/unix keeps
    // the name it was bound to.
    const dir = `${dirname(path)}/`;
    inodes = new Set(
      listening
        .filter((f) => (f[7] as string).startsWith(dir) && !existsSync(f[7] as string))
        .map((f) => f[6] as string),
    );
  }
  if (inodes.size === 0) return undefined;
  for (const pid of numericEntries("/proc")) {
    for (const fd of numericEntries(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}

/** The unix socket path of an endpoint written `unix:///path` or `/path`. */
export function socketPath(endpoint: string): string {
  return endpoint.replace(/^unix:\/\//, "");
}

/** Children of `parent` with the given command name (dockerd's own containerd). */
export function childrenNamed(parent: number, name: string): number[] {
  return numericEntries("/proc").filter((pid) => parentOf(pid) === parent && commOf(pid) === name);
}

/** containerd's shims serving the containerd listening on `address` (its -address flag). */
export function shimsOf(address: string): number[] {
  return numericEntries("/proc").filter((pid) => {
    if (!commOf(pid).startsWith("containerd-shim")) return false;
    const argv = argvOf(pid);
    return argv[argv.indexOf("-address") + 1] === address;
  });
}

/** The containerd socket a containerd process listens on (its grpc address). */
export function containerdAddress(pid: number): string | undefined {
  const inodes = new Set<string>();
  for (const fd of numericEntries(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  for (const line of readOr("/proc/net/unix", "").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const path = fields[7];
    if (path?.endsWith("containerd.sock") && inodes.has(fields[6] as string)) return path;
  }
  return undefined;
}

/** The one-, five- and fifteen-minute load averages. */
export function loadAverage(): number[] {
  return readOr("/proc/loadavg", "0 0 0").split(" ").slice(0, 3).map(Number);
}
