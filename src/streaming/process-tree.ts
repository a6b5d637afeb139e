import { readdir, readFile } from "node:fs/promises";

/**
 * Host processes of an exec: Docker has no API to kill an exec'd process, and leaving it
 * running when its client is gone (or its ExecSync timed out) is what cri-dockerd does and
 * what berth must not. Exec inspect gives the process's host PID; its descendants are found
 * through /proc's parent links.
 */

/** PID → parent PID for every process on the host, from /proc/<pid>/stat. */
export async function readParentMap(proc = "/proc"): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  const entries = await readdir(proc);
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      try {
        const ppid = parseParentPid(await readFile(`${proc}/${entry}/stat`, "utf8"));
        if (ppid !== undefined) parents.set(Number(entry), ppid);
      } catch {
        // exited while we looked
      }
    }),
  );
  return parents;
}

/**
 * The parent PID field of /proc/<pid>/stat. The command name in parentheses may itself hold
 * spaces and parentheses, so the fields are read after the last ')'.
 */
export function parseParentPid(stat: string): number | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(" ");
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** The PID and all its descendants, parents before children. */
export function descendantsOf(root: number, parents: Map<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * SIGKILLs a process and its descendants. The tree is stopped first (SIGSTOP), so nothing
 * forks a new child between reading the tree and killing it; a second pass catches what was
 * forked before the stop landed.
 */
export function killProcessTree(pid: number): Promise<void> {
  return killProcessTrees([pid]);
}

/** killProcessTree for many processes at once, reading the host's process table twice in all. */
export async function killProcessTrees(pids: number[]): Promise<void> {
  const roots = pids.filter((pid) => Number.isInteger(pid) && pid > 1);
  if (roots.length === 0) return;
  const signalAll = (targets: number[], signal: NodeJS.Signals) => {
    for (const p of targets) {
      try {
        process.kill(p, signal);
      } catch {
        // already gone
      }
    }
  };
  const trees = (parents: Map<number, number>) =>
    roots.flatMap((root) => descendantsOf(root, parents));
  signalAll(trees(await readParentMap()), "SIGSTOP");
  const tree = trees(await readParentMap());
  signalAll(tree, "SIGSTOP");
  signalAll(tree, "SIGKILL");
}
