import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CriLogLine, criLinesOf, type LogEntry, type LogStream } from "./cri-log-format.ts";
import {
  findResumePoint,
  type LineKey,
  markStarts,
  RESUME_MARGIN_NS,
  Replay,
  ResumeWindow,
} from "./log-resume.ts";

const S = 1_000_000_000n;
const BASE = 1_700_000_000n * S;

function key(seconds: number, stream: LogStream = "stdout", tag: "P" | "F" = "F"): LineKey {
  return { timestamp: BASE + BigInt(Math.round(seconds * 1e9)), stream, tag };
}

describe("findResumePoint", () => {
  test("nothing written yet: everything", () => {
    assert.deepEqual(findResumePoint([], true), { since: 0n, written: [] });
    assert.equal(findResumePoint([], false), undefined);
  });

  test("a margin before the newest line; the lines since then are the ones to skip", () => {
    const lines = markStarts([key(0), key(10), key(20), key(24), key(25)], true);
    const point = findResumePoint(lines, true);
    assert.equal(point?.since, key(25).timestamp - RESUME_MARGIN_NS);
    assert.deepEqual(point?.written, [key(20), key(24), key(25)]);
  });

  test("an unfinished long line: from its first piece, whose timestamp its pieces keep", () => {
    const lines = markStarts(
      [key(0), key(1, "stderr", "P"), key(5), key(30), key(1, "stderr", "P"), key(40)],
      true,
    );
    const point = findResumePoint(lines, true);
    assert.equal(point?.since, key(1).timestamp);
    assert.deepEqual(point?.written, [
      key(1, "stderr", "P"),
      key(5),
      key(30),
      key(1, "stderr", "P"),
      key(40),
    ]);
  });

  test("a tail of the file must reach a line older than the margin that starts a message", () => {
    const recent = markStarts([key(100), key(101), key(102)], false);
    assert.equal(findResumePoint(recent, false), undefined);
    const older = markStarts([key(80), key(90), key(100), key(101), key(102)], false);
    // The first line of a tail may continue a message: only the second is known to start one.
    assert.equal(findResumePoint(older, false)?.written.length, 3);
    const continued = markStarts([key(80), key(90, "stdout", "P"), key(90), key(100)], false);
    assert.equal(findResumePoint(continued, false), undefined);
  });
});

describe("markStarts", () => {
  test("a line starts a message when the one before it of its stream ended one", () => {
    const lines = markStarts(
      [
        key(1),
        key(2, "stderr", "P"),
        key(2, "stderr", "P"),
        key(3),
        key(2, "stderr"),
        key(4, "stderr"),
      ],
      true,
    );
    assert.deepEqual(
      lines.map((line) => line.starts),
      [true, true, false, true, false, true],
    );
    assert.equal(markStarts([key(1)], false)[0]?.starts, false);
  });
});

describe("ResumeWindow", () => {
  test("stays small and answers what the whole history would", () => {
    const all: LineKey[] = [];
    const window = new ResumeWindow([], true);
    for (let i = 0; i < 50_000; i++) {
      const line = key(i / 1000, i % 3 === 0 ? "stderr" : "stdout");
      all.push(line);
      window.add(line);
    }
    assert.ok(window.size < 20_000, `kept ${window.size} lines`);
    assert.deepEqual(window.resumePoint(), findResumePoint(markStarts(all, true), true));
    assert.equal(window.fromStart, false);
  });

  test("keeps every piece of a line still unfinished", () => {
    const window = new ResumeWindow([], true);
    window.add(key(0, "stderr", "P"));
    for (let i = 1; i < 20_000; i++) window.add(key(i / 100));
    window.add(key(0, "stderr", "P"));
    const point = window.resumePoint();
    assert.equal(point.since, key(0).timestamp);
    assert.equal(point.written.length, 20_001);
  });

  test("lastLines", () => {
    const window = new ResumeWindow(markStarts([key(1), key(2)], true), true);
    window.add(key(3));
    assert.deepEqual(
      window.lastLines(2).map((l) => l.timestamp),
      [key(2).timestamp, key(3).timestamp],
    );
    assert.equal(window.lastLines(10).length, 3);
    assert.deepEqual(window.lastLines(0), []);
  });
});

describe("Replay", () => {
  test("skips the written lines and keeps what comes after", () => {
    const replay = new Replay({ since: 0n, written: [key(1), key(2)] });
    assert.equal(replay.alreadyWritten(key(1)), true);
    assert.equal(replay.alreadyWritten(key(2)), true);
    assert.equal(replay.alreadyWritten(key(3)), false);
    assert.deepEqual(replay.summary(), { skipped: 2, written: 1, notReplayed: 0 });
  });

  test("writes lines the earlier stream missed, between the written ones", () => {
    const replay = new Replay({ since: 0n, written: [key(1), key(3)] });
    const fresh = [key(1), key(2), key(3), key(4)].filter((line) => !replay.alreadyWritten(line));
    assert.deepEqual(fresh, [key(2), key(4)]);
  });

  test("passes over written lines the engine no longer has", () => {
    const replay = new Replay({ since: 0n, written: [key(1), key(2), key(3)] });
    const fresh = [key(3), key(4)].filter((line) => !replay.alreadyWritten(line));
    assert.deepEqual(fresh, [key(4)]);
    assert.equal(replay.summary().notReplayed, 2);
  });

  test("pieces with one timestamp are matched one by one", () => {
    const piece = key(5, "stdout", "P");
    const replay = new Replay({ since: 0n, written: [piece, piece] });
    const fresh = [piece, piece, piece, key(5)].filter((line) => !replay.alreadyWritten(line));
    assert.deepEqual(fresh, [piece, key(5)]);
  });
});

/**
 * The whole story: an engine log with stdout/stderr out of timestamp order by microseconds and
 * long lines whose pieces keep their first timestamp; the file written up to some line; the
 * resume point from the file; the engine's replay through Replay. The file must end up holding
 * every line exactly once, in order.
 */
describe("resuming anywhere", () => {
  function random(seed: number) {
    let state = seed;
    return () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
  }

  function engineLog(seed: number): LogEntry[] {
    const rand = random(seed);
    const entries: LogEntry[] = [];
    let now = BASE;
    const open = new Map<LogStream, bigint>();
    for (let i = 0; i < 100; i++) {
      // Mostly close together (closer than the jitter: stamps out of order), sometimes
      // seconds apart (further than the margin).
      const r = rand();
      now += BigInt(Math.floor(rand() * (r < 0.4 ? 500 : r < 0.9 ? 5e6 : 8e9)));
      const stream: LogStream = rand() < 0.5 ? "stdout" : "stderr";
      const jitter = BigInt(Math.floor(rand() * 2000)) - 1000n;
      const started = open.get(stream);
      const piece = rand() < 0.2;
      const timestamp = started ?? now + jitter;
      if (piece) open.set(stream, timestamp);
      else open.delete(stream);
      const content = Buffer.from(`${stream}-${i}-${"x".repeat(Math.floor(rand() * 12))}`);
      entries.push({ timestamp, stream, content, complete: !piece });
    }
    return entries;
  }

  const linesOf = (entries: LogEntry[]) => entries.flatMap((entry) => criLinesOf(entry, 8));
  const brief = (lines: CriLogLine[]) =>
    lines.map((l) => `${l.timestamp} ${l.stream} ${l.tag} ${l.content}`);

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    test(`engine log #${seed}, cut at every line`, () => {
      const entries = engineLog(seed);
      const full = linesOf(entries);
      for (let cut = 0; cut <= full.length; cut++) {
        const file = full.slice(0, cut);
        for (const tailLength of [file.length, 200, 60]) {
          const tail = file.slice(-tailLength);
          const fromStart = tail.length === file.length;
          const point = findResumePoint(markStarts(tail, fromStart), fromStart);
          if (!point) {
            assert.ok(!fromStart);
            continue;
          }
          const replay = new Replay(point);
          const replayed = linesOf(entries.filter((e) => e.timestamp >= point.since));
          const written = replayed.filter((line) => !replay.alreadyWritten(line));
          assert.deepEqual(
            brief([...file, ...written]),
            brief(full),
            `cut at ${cut} of ${full.length}, tail of ${tail.length}`,
          );
        }
      }
    });
  }
});
