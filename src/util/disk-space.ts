import { mkdir, statfs } from "node:fs/promises";

/**
 * Fails, as the write would, when the file system holding `dir` has no block or no inode
 * left: a call that is going to write there (a checkpoint, a container log) is refused before
 * it creates anything in the engine, instead of half-way through. The error carries errno's
 * code, so the one gRPC mapping reports RESOURCE_EXHAUSTED, and names the directory, which
 * is made (with `mode`) when missing.
 */
export async function ensureSpaceIn(dir: string, what: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const fs = await statfs(dir);
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
