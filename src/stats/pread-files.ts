import { readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/** Large enough for any cgroup scalar file; stat files learn their own size. */
const INITIAL_SIZE = 512;
/**
 * Reads between two turns of the event loop. A pseudo-file's read is the kernel generating a
 * few hundred bytes (microseconds), far cheaper done in place than as a thread-pool request
 * and a promise each; yielding now and then keeps a stats call over hundreds of cgroups from
 * holding up other calls.
 */
const READS_PER_TURN = 64;
/** A pseudo-file bigger than this is not a cgroup or /proc/net file: refuse it. */
const MAX_SIZE = 1 << 20;

interface Entry {
  handle: Promise<FileHandle>;
  /** Bytes the last read needed, rounded up: the next read's buffer. */
  size: number;
}

/**
 * Pseudo-files (cgroup files, /proc/<pid>/net/dev) read again and again through handles
 * kept open: each read is one pread at offset 0, made synchronously (see READS_PER_TURN), which makes the kernel generate the file
 * afresh. Opening is the expensive part of reading such a file (a path walk through
 * /sys/fs/cgroup per call: about 40 times the cost of the read on the reference machine), so
 * a stats call costs one syscall per file instead of four.
 *
 * Handles are grouped by owner (a container or sandbox id) and closed together when the owner
 * goes away. A failed read closes that handle: the next read opens the path again
 * (a cgroup recreated by a restart, a file that vanished with its container).
 */
export class PreadFiles {
  readonly #owners = new Map<string, Map<string, Entry>>();
  readonly #missing = new Map<string, Set<string>>();
  #reads = 0;
  #sinceYield = 0;

  /** The whole file as text; rejects like fs.readFile (ENOENT, ENODEV, ...). */
  async read(owner: string, path: string): Promise<string> {
    this.#reads++;
    let files = this.#owners.get(owner);
    if (!files) {
      files = new Map();
      this.#owners.set(owner, files);
    }
    let entry = files.get(path);
    if (!entry) {
      entry = { handle: open(path, "r"), size: INITIAL_SIZE };
      files.set(path, entry);
    }
    if (++this.#sinceYield >= READS_PER_TURN) {
      this.#sinceYield = 0;
      await new Promise(setImmediate);
    }
    try {
      const handle = await entry.handle;
      // A handle being closed (its owner released) has fd -1 from the start of close(), and
      // nothing runs between that check and the read: a read never lands on a reused number.
      if (handle.fd < 0) throw Object.assign(new Error(`${path}: closed`), { code: "EBADF" });
      for (;;) {
        const buffer = Buffer.allocUnsafe(entry.size);
        const bytesRead = readSync(handle.fd, buffer, 0, buffer.length, 0);
        // A full buffer may be a truncated file: read it again, whole, with a larger one.
        if (bytesRead < buffer.length) return buffer.toString("latin1", 0, bytesRead);
        if (entry.size >= MAX_SIZE) throw new Error(`${path} is larger than ${MAX_SIZE} bytes`);
        entry.size *= 4;
      }
    } catch (err) {
      if (files.get(path) === entry) files.delete(path);
      if (files.size === 0 && this.#owners.get(owner) === files) this.#owners.delete(owner);
      void entry.handle.then((handle) => handle.close()).catch(() => {});
      throw err;
    }
  }

  /**
   * A file that may not exist here (memory.swap.current without swap accounting, PSI files
   * on older kernels): undefined when it is missing, remembered for the owner so that later
   * reads do not try to open it again.
   */
  async readOptional(owner: string, path: string): Promise<string | undefined> {
    const missing = this.#missing.get(owner);
    if (missing?.has(path)) return undefined;
    try {
      return await this.read(owner, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EACCES" || code === "EPERM" || code === "EOPNOTSUPP") {
        if (missing) missing.add(path);
        else this.#missing.set(owner, new Set([path]));
      }
      return undefined;
    }
  }

  /** Closes every handle of the owner (after their reads in flight). */
  async release(owner: string): Promise<void> {
    this.#missing.delete(owner);
    const files = this.#owners.get(owner);
    if (!files) return;
    this.#owners.delete(owner);
    await Promise.all(
      [...files.values()].map((entry) =>
        entry.handle.then((handle) => handle.close()).catch(() => {}),
      ),
    );
  }

  async releaseAll(): Promise<void> {
    this.#missing.clear();
    await Promise.all([...this.#owners.keys()].map((owner) => this.release(owner)));
  }

  /** Open handles, for tests and debugging. */
  get size(): number {
    let count = 0;
    for (const files of this.#owners.values()) count += files.size;
    return count;
  }

  /** Files read so far, for tests of what background work reads. */
  get reads(): number {
    return this.#reads;
  }

  owners(): IterableIterator<string> {
    return this.#owners.keys();
  }
}
