import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { messageOf } from "../errors.ts";

/**
 * Writes a file so that readers, and berth after a crash, see either the old content or the
 * new, never a torn one: temp file, fsync, rename, fsync of the directory. A failed write
 * (a full disk) leaves the old file as it was and no temp file; its error names the path.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600) {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const file = await open(temp, "w", mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    // Node names no path for a failed write(2) (ENOSPC, EDQUOT, EIO): say which file it was.
    throw new Error(`cannot write ${path}: ${messageOf(err)}`, { cause: err });
  }
  const directory = await open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
