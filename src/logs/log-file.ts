import { type FileHandle, mkdir, open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parseCriLine } from "./cri-log-format.ts";
import { findResumePoint, type LineKey, markStarts, type WrittenLine } from "./log-resume.ts";

/**
 * The file side of a container log: opening it as containerd does, and reading back its tail
 * to resume after berth restarted.
 */

/**
 * Opens (creating) the log file for appending: directories 0755 and the file 0640 as containerd
 * makes them (the kubelet creates the pod's directory; the container's own may be missing).
 */
export async function openLogFile(path: string): Promise<FileHandle> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  return open(path, "a", 0o640);
}

/**
 * Cuts off a last line without its newline, left by a writer that died mid-write: the kubelet
 * would glue the next line onto it. The line is written again when resuming.
 */
export async function cutTornTail(path: string): Promise<number> {
  let file: FileHandle;
  try {
    file = await open(path, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  try {
    const { size } = await file.stat();
    const step = 64 * 1024;
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - step);
      const block = Buffer.alloc(end - start);
      await readFully(file, block, start);
      if (end === size && block.at(-1) === 0x0a) return 0;
      const newline = block.lastIndexOf(0x0a);
      if (newline >= 0) {
        const keep = start + newline + 1;
        await file.truncate(keep);
        return size - keep;
      }
      end = start;
    }
    await file.truncate(0);
    return size;
  } finally {
    await file.close();
  }
}

/** The tail of the written lines, far enough back to resume from (see log-resume.ts). */
export interface WrittenTail {
  lines: WrittenLine[];
  fromStart: boolean;
}

/** How much of the files is read at most to find where to resume. */
const MAX_TAIL_BYTES = 16 * 1024 * 1024;
const FIRST_TAIL_BYTES = 256 * 1024;

/**
 * Reads the last lines of the log at `path`, and of the files the kubelet rotated it to,
 * newest first, while they do not reach back far enough (rotated moments before a berth
 * restart, or twice within the resume margin).
 */
export async function readWrittenTail(path: string): Promise<WrittenTail> {
  const current = await readTailKeys(path, MAX_TAIL_BYTES);
  const partial = (keys: LineKey[]) => ({ lines: markStarts(keys, false), fromStart: false });
  if (!current.complete || findResumePoint(markStarts(current.keys, false), false)) {
    return partial(current.keys);
  }
  const rotated = await rotatedNewestFirst(path);
  if (rotated.length === 0) return { lines: markStarts(current.keys, true), fromStart: true };
  let keys = current.keys;
  let budget = MAX_TAIL_BYTES - current.bytes;
  for (const file of rotated) {
    if (budget <= 0) break;
    const earlier = await readTailKeys(file, budget);
    keys = [...earlier.keys, ...keys];
    budget -= earlier.bytes;
    if (!earlier.complete || findResumePoint(markStarts(keys, false), false)) break;
  }
  return partial(keys);
}

interface TailKeys {
  keys: LineKey[];
  /** The whole file was read. */
  complete: boolean;
  bytes: number;
}

/**
 * Reads ever larger tails of the file until they hold a resume point or the budget is spent.
 * A missing file has no lines.
 */
async function readTailKeys(path: string, budget: number): Promise<TailKeys> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { keys: [], complete: true, bytes: 0 };
    throw err;
  }
  try {
    const { size } = await file.stat();
    let want = Math.min(FIRST_TAIL_BYTES, budget);
    for (;;) {
      const start = Math.max(0, size - want);
      const block = Buffer.alloc(size - start);
      await readFully(file, block, start);
      const keys = keysOf(block, start > 0);
      const complete = start === 0;
      if (complete || want >= budget || findResumePoint(markStarts(keys, false), false)) {
        return { keys, complete, bytes: block.length };
      }
      want = Math.min(want * 4, budget);
    }
  } finally {
    await file.close();
  }
}

function keysOf(block: Buffer, startsMidLine: boolean): LineKey[] {
  const keys: LineKey[] = [];
  // A block cut from the middle of the file starts inside a line: skip to the next one.
  let from = startsMidLine ? block.indexOf(0x0a) + 1 : 0;
  if (startsMidLine && from === 0) return keys;
  while (from < block.length) {
    let end = block.indexOf(0x0a, from);
    if (end < 0) end = block.length;
    const line = parseCriLine(block.subarray(from, end));
    if (line) keys.push({ timestamp: line.timestamp, stream: line.stream, tag: line.tag });
    from = end + 1;
  }
  return keys;
}

/**
 * The files the log was rotated to, newest first: the kubelet renames `0.log` to
 * `0.log.20240102-150405` and compresses the older ones to `.gz` (through `.gz.tmp`), so the
 * uncompressed siblings hold the lines written just before. Ordered by modification time (the
 * last line written into each), not by the kubelet's name alone: a file renamed otherwise
 * (`0.log.1`, as logrotate would) must not make the new, short file pass for the container's
 * whole log, whose last seconds would then be copied again.
 */
async function rotatedNewestFirst(path: string): Promise<string[]> {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return [];
  }
  const found: Array<{ path: string; name: string; mtimeMs: number }> = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || /\.(gz|tmp)$/.test(name)) continue;
    const candidate = join(dirname(path), name);
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) found.push({ path: candidate, name, mtimeMs: info.mtimeMs });
  }
  // Ties (the same clock tick) go to the later name, the kubelet's newer timestamp.
  found.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  return found.map((file) => file.path);
}

async function readFully(file: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await file.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`log file shrank while reading at ${position + done}`);
    done += bytesRead;
  }
}
