import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

/**
 * A small tmpfs of the test's own, to run out of space on for real. `fill()` writes a file
 * until the file system is full (ENOSPC), `free()` removes it again.
 */
export interface Tmpfs {
  path: string;
  fill(): Promise<void>;
  free(): Promise<void>;
  unmount(): void;
}

const FILLER = ".berth-test-filler";

/** Mounts a tmpfs (`options` as mount -o takes them, e.g. "size=1m"); throws when it cannot. */
export function mountTmpfs(options: string, path?: string): Tmpfs {
  const dir = path ?? mkdtempSync(join(tmpdir(), "berth-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "berth-test-tmpfs", dir], {
    stdio: "pipe",
  });
  return {
    path: dir,
    async fill() {
      const file = await open(join(dir, FILLER), "a");
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      try {
        for (;;) await file.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      } finally {
        await file.close();
      }
      // The last partial page may leave a few bytes: fill them one at a time.
      const tail = await open(join(dir, `${FILLER}-tail`), "a").catch(() => undefined);
      if (tail) {
        try {
          for (;;) await tail.write(Buffer.from("x"));
        } catch {
          // full
        } finally {
          await tail.close();
        }
      }
    },
    async free() {
      await rm(join(dir, FILLER), { force: true });
      await rm(join(dir, `${FILLER}-tail`), { force: true });
    },
    unmount() {
      // Lazily: a berth or a container may still hold a file open there.
      execFileSync("umount", ["-l", dir], { stdio: "ignore" });
      if (!path) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `work` with a fresh tmpfs, unmounted afterwards whatever happens; skips the test when
 * this process may not mount (not root, no CAP_SYS_ADMIN).
 */
export async function withTmpfs(
  t: TestContext,
  options: string,
  work: (path: string, fill: () => Promise<void>, free: () => Promise<void>) => Promise<void>,
): Promise<void> {
  let mount: Tmpfs;
  try {
    mount = mountTmpfs(options);
  } catch (err) {
    t.skip(`cannot mount a tmpfs here: ${String(err).split("\n")[0]}`);
    return;
  }
  try {
    await work(
      mount.path,
      () => mount.fill(),
      () => mount.free(),
    );
  } finally {
    mount.unmount();
  }
}
