import { execFile } from "node:child_process";
import { mkdir, rm, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** statfs type of a bind-mounted namespace file (NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;

/**
 * Pins a pod's network namespace to a file under berth's root: a bind mount of
 * /proc/<pid>/ns/net keeps the namespace alive after the pause container is gone, so CNI DEL
 * can still clean inside it (the bridge plugin leaves its NAT chain behind without a netns).
 */
export class NetnsPins {
  readonly #dir: string;

  constructor(rootDir: string) {
    this.#dir = join(rootDir, "netns");
  }

  pathOf(sandboxId: string): string {
    return join(this.#dir, sandboxId);
  }

  async pin(sandboxId: string, pid: number): Promise<string> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = this.pathOf(sandboxId);
    await writeFile(path, "", { mode: 0o600 });
    await run("mount", ["--bind", `/proc/${pid}/ns/net`, path]);
    return path;
  }

  /** Whether the path still holds a namespace (not after a reboot or an unpin). */
  async isPinned(path: string): Promise<boolean> {
    try {
      return (await statfs(path)).type === NSFS_MAGIC;
    } catch {
      return false;
    }
  }

  async unpin(sandboxId: string): Promise<void> {
    const path = this.pathOf(sandboxId);
    if (await this.isPinned(path)) {
      await run("umount", [path]).catch(() => run("umount", ["-l", path]));
    }
    await rm(path, { force: true });
  }
}
