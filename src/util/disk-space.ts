import { statfs } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Fails, as the write would, when the file system holding `dir` has no block or no inode
 * left: a call that is going to write there (a checkpoint, a container log) is refused before
 * it creates anything in the engine, instead of half-way through. The error carries errno's
 * code, so the one gRPC mapping reports RESOURCE_EXHAUSTED, and names the directory. Nothing
 * is made: a missing directory is judged by the nearest one that exists (whoever writes there
 * makes it; a refused call must leave nothing behind).
 */
export async function ensureSpaceIn(dir: string, what: string): Promise<void> {
  const fs = await statfsOfNearest(dir);
  const noBlocks = fs.bavail === 0;
  // File systems without an inode limit (btrfs, say) report 0 files: not a shortage.
  const noInodes = fs.files > 0 && fs.ffree === 0;
  if (noBlocks || noInodes) {
    throw Object.assign(
      new Error(
        `no space left on device for ${what} in ${dir} (no free ${noBlocks ? "blocks" : "inodes"})`,
      ),
      { code: "ENOSPC", path: dir },
    );
  }
}

async function statfsOfNearest(dir: string) {
  for (let at = dir; ; at = dirname(at)) {
    try {
      return await statfs(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(at) === at) throw err;
    }
  }
}
