import type { LogStream, LogTag } from "./cri-log-format.ts";

/**
 * Where to pick up a container's log after berth (or the engine connection) went away: which
 * `since` to ask the engine for, and which of the lines it answers are already in the file.
 *
 * The engine replays, in its own order, every message with a timestamp at or after `since`.
 * Its timestamps are not ordered, so "skip what is not newer than the last line" would lose
 * or repeat lines: stdout and stderr are stamped by two goroutines before they take turns at
 * the log file (microseconds apart), and every piece of a line longer than 16 KiB carries
 * the timestamp of its first piece, however late the last piece comes. So:
 *
 * - `since` is a margin before the newest timestamp written, and no later than the first
 *   piece of a line still unfinished (its remaining pieces come with that old timestamp);
 * - the lines already written with a timestamp at or after `since` come back first in the
 *   replay, in the same order: they are recognised by timestamp, stream and tag, counted off
 *   in order (pieces of one line share all three), and skipped; a line that is not among them
 *   is new;
 * - those lines are all found in the tail of the file once it reaches back to a line that
 *   starts a message (not a continuation piece) and is older than `since` by the margin:
 *   such lines are in timestamp order up to the goroutine race the margin covers.
 */

/** What resuming needs of a written line; the content is not needed. */
export interface LineKey {
  timestamp: bigint;
  stream: LogStream;
  tag: LogTag;
}

export interface WrittenLine extends LineKey {
  /** The line starts a message: the line before it of the same stream ended one (`F`). */
  starts: boolean;
}

export interface ResumePoint {
  /** Nanoseconds; 0 asks for everything. */
  since: bigint;
  /** The lines the replay answers first that are already written, in order. */
  written: LineKey[];
}

/** Covers the stdout/stderr race, generously (a stalled disk holds the engine's writers). */
export const RESUME_MARGIN_NS = 5_000_000_000n;

/**
 * The resume point for `lines`, the last lines written in order. `fromStart`: they are all
 * lines ever written. Undefined when they do not reach back far enough to be sure.
 */
export function findResumePoint(
  lines: readonly WrittenLine[],
  fromStart: boolean,
  marginNs = RESUME_MARGIN_NS,
): ResumePoint | undefined {
  if (lines.length === 0) return fromStart ? { since: 0n, written: [] } : undefined;
  const since = sinceFor(lines, marginNs);
  if (!fromStart && !lines.some((line) => line.starts && line.timestamp < since - marginNs)) {
    return undefined;
  }
  return { since, written: keysFrom(lines, 0, since) };
}

/** Like findResumePoint, for when nothing more can be read: the best guess. */
export function bestResumePoint(
  lines: readonly WrittenLine[],
  marginNs = RESUME_MARGIN_NS,
): ResumePoint {
  if (lines.length === 0) return { since: 0n, written: [] };
  const since = sinceFor(lines, marginNs);
  return { since, written: keysFrom(lines, 0, since) };
}

function sinceFor(lines: readonly WrittenLine[], marginNs: bigint): bigint {
  let newest = 0n;
  for (const line of lines) if (line.timestamp > newest) newest = line.timestamp;
  let since = newest - marginNs;
  for (const stream of ["stdout", "stderr"] as const) {
    const last = lastOf(lines, stream);
    if (last?.tag === "P" && last.timestamp < since) since = last.timestamp;
  }
  return since < 0n ? 0n : since;
}

function lastOf(lines: readonly WrittenLine[], stream: LogStream): WrittenLine | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as WrittenLine;
    if (line.stream === stream) return line;
  }
  return undefined;
}

function keysFrom(lines: readonly WrittenLine[], from: number, since: bigint): LineKey[] {
  const keys: LineKey[] = [];
  for (let i = from; i < lines.length; i++) {
    const { timestamp, stream, tag } = lines[i] as WrittenLine;
    if (timestamp >= since) keys.push({ timestamp, stream, tag });
  }
  return keys;
}

/**
 * Marks which lines start a message. `fromStart`: the first line of each stream does; otherwise
 * nothing before it is known, and it is not counted as one.
 */
export function markStarts(lines: readonly LineKey[], fromStart: boolean): WrittenLine[] {
  const lastTag = new Map<LogStream, LogTag>();
  return lines.map((line) => {
    const before = lastTag.get(line.stream);
    lastTag.set(line.stream, line.tag);
    return { ...line, starts: before === undefined ? fromStart : before === "F" };
  });
}

/**
 * The lines a writer has written lately, enough to resume from without reading the file
 * again (after the engine restarted, or to catch up once the container exited). Old lines are
 * dropped once a newer line that starts a message is old enough to stand for them.
 */
export class ResumeWindow {
  #lines: WrittenLine[];
  #fromStart: boolean;
  readonly #lastTag = new Map<LogStream, LogTag>();
  readonly #marginNs: bigint;
  #pruneAt = PRUNE_AT;

  /** `lines`: the written lines known so far, as markStarts answered them. */
  constructor(lines: WrittenLine[], fromStart: boolean, marginNs = RESUME_MARGIN_NS) {
    this.#lines = lines;
    this.#fromStart = fromStart;
    this.#marginNs = marginNs;
    for (const line of lines) this.#lastTag.set(line.stream, line.tag);
  }

  get size(): number {
    return this.#lines.length;
  }

  /** The lines are all lines ever written. */
  get fromStart(): boolean {
    return this.#fromStart;
  }

  /** The last `count` lines written (fewer when fewer are kept), oldest first. */
  lastLines(count: number): LineKey[] {
    return count <= 0 ? [] : this.#lines.slice(-count);
  }

  add(line: LineKey): void {
    const before = this.#lastTag.get(line.stream);
    this.#lastTag.set(line.stream, line.tag);
    this.#lines.push({
      timestamp: line.timestamp,
      stream: line.stream,
      tag: line.tag,
      starts: before === undefined ? this.#fromStart : before === "F",
    });
    if (this.#lines.length >= this.#pruneAt) {
      this.#prune();
      // Amortised: a window that cannot shrink is not scanned again on every line.
      this.#pruneAt = Math.max(PRUNE_AT, this.#lines.length * 2);
    }
  }

  resumePoint(): ResumePoint {
    return (
      findResumePoint(this.#lines, this.#fromStart, this.#marginNs) ??
      bestResumePoint(this.#lines, this.#marginNs)
    );
  }

  #prune(): void {
    const since = sinceFor(this.#lines, this.#marginNs);
    let keepFrom = -1;
    for (let i = this.#lines.length - 1; i >= 0; i--) {
      const line = this.#lines[i] as WrittenLine;
      if (line.starts && line.timestamp < since - this.#marginNs) {
        keepFrom = i;
        break;
      }
    }
    // Nothing old enough to stand for the rest (a flood within the margin): keep a bounded
    // tail anyway; resuming then may repeat or miss lines of that flood.
    if (keepFrom < 0 && this.#lines.length >= HARD_LIMIT)
      keepFrom = this.#lines.length - HARD_LIMIT / 2;
    if (keepFrom <= 0) return;
    this.#lines = this.#lines.slice(keepFrom);
    this.#fromStart = false;
  }
}

const PRUNE_AT = 4096;
const HARD_LIMIT = 262_144;

/**
 * Skips the lines a replay answers that the file already holds (ResumePoint.written). The
 * replay is the engine's log in the same order the file was written from, so the written lines
 * come back in order, with new ones after them or between them (lines an earlier stream missed
 * when the engine rotated its copy under it). Lines the engine no longer has (rotated away)
 * are passed over.
 */
export class Replay {
  readonly #expected: LineKey[];
  /** Where each line key occurs in #expected, ascending, and how many of those are used up. */
  readonly #positions = new Map<string, { at: number[]; used: number }>();
  #next = 0;
  #skipped = 0;
  #written = 0;

  constructor(point: ResumePoint) {
    this.#expected = point.written;
    point.written.forEach((line, i) => {
      const key = keyOf(line);
      const positions = this.#positions.get(key);
      if (positions) positions.at.push(i);
      else this.#positions.set(key, { at: [i], used: 0 });
    });
  }

  alreadyWritten(line: LineKey): boolean {
    if (this.#next < this.#expected.length) {
      const positions = this.#positions.get(keyOf(line));
      let found: number | undefined;
      if (positions) {
        // Positions before #next are passed over already.
        while (
          positions.used < positions.at.length &&
          (positions.at[positions.used] as number) < this.#next
        ) {
          positions.used++;
        }
        found = positions.at[positions.used++];
      }
      if (found !== undefined) {
        this.#next = found + 1;
        this.#skipped++;
        return true;
      }
    }
    this.#written++;
    return false;
  }

  summary(): { skipped: number; written: number; notReplayed: number } {
    return {
      skipped: this.#skipped,
      written: this.#written,
      notReplayed: this.#expected.length - this.#skipped,
    };
  }
}

function keyOf(line: LineKey): string {
  return `${line.timestamp} ${line.stream} ${line.tag}`;
}

export function sameLine(a: LineKey, b: LineKey): boolean {
  return a.timestamp === b.timestamp && a.stream === b.stream && a.tag === b.tag;
}
