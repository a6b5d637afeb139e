import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { messageOf } from "../errors.ts";
import type { StateStore, StoreChange } from "../store/state-store.ts";
import { nowNs } from "./cgroup-reader.ts";

/**
 * Containers' writable layers (overlay2's upper directories), measured in the background and
 * cached: the stats calls only read the cache, never walk a directory or call the engine.
 *
 * Each container's upper directory comes from one inspection (GraphDriver.Data.UpperDir),
 * cached for its lifetime. A new container is measured a few seconds after it appears; then
 * every container once per interval (60 s), one at a time and spread over the interval, so the
 * walk never competes with stats calls for libuv's thread pool (at most a couple of lstat
 * calls are in flight).
 *
 * The walks serve the stats calls only: while nobody has read a layer's usage for `idleAfterMs`
 * the job pauses (an unpolled node walks nothing), and the next read resumes it, with what is
 * overdue measured first; that read answers the last measurement, whose timestamp says when.
 */

export interface LayerUsage {
  /** When the measurement finished, nanoseconds since the epoch. */
  timestamp: bigint;
  /** Bytes allocated on disk (st_blocks × 512, as du and containerd's snapshotters count). */
  usedBytes: bigint;
  /** Inodes (files, directories, links) in the layer, hard links counted once. */
  inodesUsed: bigint;
}

export interface WritableLayerOptions {
  /** The upper directory of a container, or undefined when its storage driver has none. */
  upperDirOf: (id: string, signal: AbortSignal) => Promise<string | undefined>;
  store: StateStore;
  log: Logger;
  /** Between two measurements of one container. */
  intervalMs?: number;
  /** A new container is measured this long after it appears (its layer is set up by then). */
  firstDelayMs?: number;
  /** lstat calls in flight while walking. */
  concurrency?: number;
  /** The job pauses once no usage was read for this long (the kubelet reads every 10 s). */
  idleAfterMs?: number;
}

/** Disk usage of a directory tree, like `du -s -B1` and `du -s --inodes`, on one filesystem. */
export async function directoryUsage(
  root: string,
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<{ usedBytes: bigint; inodesUsed: bigint }> {
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const top = await lstat(root, { bigint: true });
  const seen = new Set<bigint>();
  let usedBytes = top.blocks * 512n;
  let inodesUsed = 1n;
  const pending: string[] = top.isDirectory() ? [root] : [];
  while (pending.length > 0) {
    options.signal?.throwIfAborted();
    const dir = pending.pop() as string;
    let names: string[];
    try {
      // One scandir per directory: an opendir iteration costs a promise per entry.
      names = await readdir(dir);
    } catch {
      continue; // removed under us
    }
    for (let i = 0; i < names.length; i += concurrency) {
      const batch = names.slice(i, i + concurrency).map((name) => join(dir, name));
      const stats = await Promise.all(
        batch.map((path) => lstat(path, { bigint: true }).catch(() => undefined)),
      );
      stats.forEach((stat, j) => {
        if (!stat || stat.dev !== top.dev) return;
        if (stat.nlink > 1n && !stat.isDirectory()) {
          if (seen.has(stat.ino)) return;
          seen.add(stat.ino);
        }
        usedBytes += stat.blocks * 512n;
        inodesUsed += 1n;
        if (stat.isDirectory()) pending.push(batch[j] as string);
      });
    }
  }
  return { usedBytes, inodesUsed };
}

/**
 * The device (mount source) of the filesystem holding `path`, from /proc/self/mountinfo: the
 * "device" label of cAdvisor's filesystem metrics, e.g. /dev/vda1.
 */
export function mountSourceOf(path: string, mountinfo: string): string | undefined {
  let best: { mountpoint: string; source: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    const separator = line.indexOf(" - ");
    if (separator < 0) continue;
    const mountpoint = (line.slice(0, separator).split(" ")[4] ?? "").replace(
      /\\([0-7]{3})/g,
      (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)),
    );
    const source = line.slice(separator + 3).split(" ")[1] ?? "";
    const inside = mountpoint === "/" || path === mountpoint || path.startsWith(`${mountpoint}/`);
    // The longest match wins; among equal ones the last mounted (it hides the others).
    if (inside && (!best || mountpoint.length >= best.mountpoint.length)) {
      best = { mountpoint, source };
    }
  }
  return best?.source;
}

export class WritableLayers {
  readonly #options: Required<Omit<WritableLayerOptions, "store" | "log" | "upperDirOf">> &
    WritableLayerOptions;
  readonly #usage = new Map<string, LayerUsage>();
  /** undefined: the storage driver has no upper directory for this container. */
  readonly #upperDirs = new Map<string, string | undefined>();
  /** When each container is due next, ms (monotonic clock). */
  readonly #due = new Map<string, number>();
  readonly #stopped = new AbortController();
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  /** When a usage was last read (monotonic ms); nothing is walked before the first read. */
  #lastRead = Number.NEGATIVE_INFINITY;

  constructor(options: WritableLayerOptions) {
    this.#options = {
      intervalMs: 60_000,
      firstDelayMs: 2_000,
      concurrency: 2,
      idleAfterMs: 30_000,
      ...options,
    };
  }

  /** The last measurement, if any: read on the stats call path, which keeps the job going. */
  get(id: string): LayerUsage | undefined {
    const paused = this.#paused();
    this.#lastRead = performance.now();
    if (paused) this.#wake?.();
    return this.#usage.get(id);
  }

  #paused(): boolean {
    return performance.now() - this.#lastRead > this.#options.idleAfterMs;
  }

  start(): void {
    if (this.#loop) return;
    this.#unsubscribe = this.#options.store.subscribe((change) => this.#onChange(change));
    const now = performance.now();
    // Spread what already exists over one interval instead of walking it all at once.
    const existing = [...this.#options.store.containers()];
    existing.forEach((record, i) => {
      this.#due.set(record.id, now + (i * this.#options.intervalMs) / Math.max(1, existing.length));
    });
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#stopped.abort();
    this.#wake?.();
    await this.#loop;
  }

  /** Measures one container now (tests, and a container whose first stats are wanted). */
  async measure(id: string): Promise<LayerUsage | undefined> {
    const signal = this.#stopped.signal;
    let upper = this.#upperDirs.get(id);
    if (!this.#upperDirs.has(id)) {
      upper = await this.#options.upperDirOf(id, signal);
      // The container may have gone while the engine answered.
      if (!this.#options.store.container(id)) return undefined;
      this.#upperDirs.set(id, upper);
    }
    if (upper === undefined) return undefined;
    const { usedBytes, inodesUsed } = await directoryUsage(upper, {
      concurrency: this.#options.concurrency,
      signal,
    });
    if (!this.#options.store.container(id)) return undefined;
    const usage = { timestamp: nowNs(), usedBytes, inodesUsed };
    this.#usage.set(id, usage);
    return usage;
  }

  #onChange(change: StoreChange): void {
    if (change.entry.kind !== "container") return;
    const id = change.entry.record.id;
    if (change.type === "delete") {
      this.#usage.delete(id);
      this.#upperDirs.delete(id);
      this.#due.delete(id);
      return;
    }
    if (!this.#due.has(id) && !this.#usage.has(id)) {
      this.#due.set(id, performance.now() + this.#options.firstDelayMs);
      this.#wake?.();
    }
  }

  async #run(): Promise<void> {
    const signal = this.#stopped.signal;
    while (!signal.aborted) {
      const now = performance.now();
      let nextId: string | undefined;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, at] of this.#due) {
        if (at < nextAt) {
          nextAt = at;
          nextId = id;
        }
      }
      const paused = this.#paused();
      if (nextId === undefined || nextAt > now || paused) {
        // Paused, the loop sleeps until a read wakes it (or a periodic look, in case).
        const wait =
          Number.isFinite(nextAt) && !paused ? Math.max(0, nextAt - now) : this.#options.intervalMs;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          timer.unref();
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        continue;
      }
      this.#due.set(nextId, performance.now() + this.#options.intervalMs);
      try {
        await this.measure(nextId);
      } catch (err) {
        if (signal.aborted) return;
        this.#options.log.debug(
          { id: nextId, err: messageOf(err) },
          "could not measure a container's writable layer",
        );
      }
      // Yield between containers: the walk is background work.
      await sleep(10, undefined, { ref: false }).catch(() => {});
    }
  }
}

/** GraphDriver as the engine reports it (overlay2, fuse-overlayfs: Data.UpperDir). */
interface GraphDriverInspect {
  GraphDriver?: { Name?: string; Data?: Record<string, string> | null };
}

/**
 * Finds upper directories by inspecting the container, once per container and only from the
 * background job. undefined for a container that is gone or a driver without an upper dir.
 */
export function dockerUpperDirs(docker: {
  findContainer(id: string, signal?: AbortSignal): Promise<object | undefined>;
}): (id: string, signal: AbortSignal) => Promise<string | undefined> {
  return async (id, signal) => {
    const inspect = (await docker.findContainer(id, signal)) as GraphDriverInspect | undefined;
    const upper = inspect?.GraphDriver?.Data?.UpperDir;
    return upper ? upper : undefined;
  };
}
