import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { formatCriLine } from "./cri-log-format.ts";
import { cutTornTail, openLogFile, readWrittenTail } from "./log-file.ts";
import { findResumePoint } from "./log-resume.ts";

const BASE = 1_700_000_000_000_000_000n;

/** `count` stdout lines a second apart from `from` seconds. */
function lines(from: number, count: number): Buffer {
  const out: Buffer[] = [];
  for (let i = from; i < from + count; i++) {
    out.push(
      formatCriLine({
        timestamp: BASE + BigInt(i) * 1_000_000_000n,
        stream: "stdout",
        tag: "F",
        content: Buffer.from(`line ${i}`),
      }),
    );
  }
  return Buffer.concat(out);
}

describe("log files", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-log-file-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("openLogFile makes missing directories 0755 and the file 0640, appending", async () => {
    const path = join(dir, "pod", "ctr", "0.log");
    const saved = process.umask(0o022);
    try {
      const first = await openLogFile(path);
      await first.write("a\n");
      await first.close();
      const second = await openLogFile(path);
      await second.write("b\n");
      await second.close();
    } finally {
      process.umask(saved);
    }
    assert.equal(await readFile(path, "utf8"), "a\nb\n");
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.equal((await stat(join(dir, "pod", "ctr"))).mode & 0o777, 0o755);
  });

  test("cutTornTail drops a last line without newline, and nothing else", async () => {
    const path = join(dir, "torn.log");
    await writeFile(path, Buffer.concat([lines(0, 3), Buffer.from("2023-11-14T22:13:23Z std")]));
    assert.equal(await cutTornTail(path), 24);
    assert.equal(await cutTornTail(path), 0);
    assert.deepEqual(await readFile(path), lines(0, 3));
  });

  test("cutTornTail empties a file that is one torn line", async () => {
    const path = join(dir, "torn-only.log");
    await writeFile(path, "no newline at all");
    assert.equal(await cutTornTail(path), 17);
    assert.equal(await cutTornTail(join(dir, "missing.log")), 0);
    assert.equal((await stat(path)).size, 0);
  });

  test("readWrittenTail: a missing or whole file is read from its start", async () => {
    assert.deepEqual(await readWrittenTail(join(dir, "missing.log")), {
      lines: [],
      fromStart: true,
    });
    const path = join(dir, "whole.log");
    await writeFile(path, lines(0, 5));
    const tail = await readWrittenTail(path);
    assert.equal(tail.fromStart, true);
    assert.equal(tail.lines.length, 5);
  });

  test("readWrittenTail: a big file is read only as far back as needed", async () => {
    const path = join(dir, "big.log");
    await writeFile(path, lines(0, 20_000));
    const tail = await readWrittenTail(path);
    assert.equal(tail.fromStart, false);
    assert.ok(tail.lines.length < 20_000);
    assert.equal(tail.lines.at(-1)?.timestamp, BASE + 19_999n * 1_000_000_000n);
    assert.ok(findResumePoint(tail.lines, false));
  });

  test("readWrittenTail: right after the kubelet rotated, the rotated file is read too", async () => {
    const path = join(dir, "0.log");
    await writeFile(`${path}.20240101-000000.gz`, "compressed, ignored");
    await writeFile(`${path}.20240101-000100`, lines(0, 2));
    await writeFile(`${path}.20240101-000200`, lines(2, 18));
    await writeFile(path, lines(20, 1));
    const tail = await readWrittenTail(path);
    assert.equal(tail.fromStart, false);
    assert.deepEqual(
      tail.lines.map((line) => Number((line.timestamp - BASE) / 1_000_000_000n)),
      Array.from({ length: 19 }, (_, i) => i + 2),
    );
    // The 5 s margin before line 20: lines 15 to 20 are written already.
    assert.deepEqual(findResumePoint(tail.lines, false)?.written.length, 6);
  });

  test("readWrittenTail: a file rotated under another name is found by its time", async () => {
    const sub = join(dir, "logrotate");
    await mkdir(sub);
    const path = join(sub, "0.log");
    await writeFile(`${path}.2`, lines(0, 2));
    await utimes(`${path}.2`, 1000, 1000);
    await writeFile(`${path}.1`, lines(2, 18));
    await writeFile(path, lines(20, 1));
    const tail = await readWrittenTail(path);
    assert.equal(tail.fromStart, false);
    assert.equal(tail.lines.length, 19);
    // Without the rotated file, the margin's lines 15 to 19 would be written again.
    assert.deepEqual(findResumePoint(tail.lines, false)?.written.length, 6);
  });

  test("readWrittenTail: rotated twice within the margin, the older rotated file is read too", async () => {
    const sub = join(dir, "twice");
    await mkdir(sub);
    const path = join(sub, "0.log");
    await writeFile(`${path}.20240101-000100`, lines(0, 15));
    await utimes(`${path}.20240101-000100`, 1000, 1000);
    await writeFile(`${path}.20240101-000200`, lines(15, 3));
    await writeFile(path, lines(18, 1));
    const tail = await readWrittenTail(path);
    assert.equal(tail.lines[0]?.timestamp, BASE);
    // The 5 s margin before line 18 reaches into the older file: lines 13 to 18 are written.
    assert.deepEqual(findResumePoint(tail.lines, false)?.written.length, 6);
  });

  test("readWrittenTail skips lines it cannot parse", async () => {
    const path = join(dir, "junk.log");
    await writeFile(path, Buffer.concat([lines(0, 2), Buffer.from("junk\n"), lines(2, 1)]));
    assert.equal((await readWrittenTail(path)).lines.length, 3);
  });
});
