import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LogEntry } from "./cri-log-format.ts";
import { DOCKER_PIECE_SIZE, entryOf, logStreamParser } from "./docker-log-stream.ts";

const TS = "2026-11-23T00:16:06.839593477Z";
const TS2 = "2026-11-23T00:16:06.840054733Z";
const NS = 1795392966839593477n;
const NS2 = 1795392966840054733n;

function frame(type: number, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Feeds `data` in pieces of `size` bytes; answers the entries and the engine errors. */
function parse(tty: boolean, data: Buffer, size = data.length) {
  const errors: string[] = [];
  const parser = logStreamParser(tty, (message) => errors.push(message));
  const entries: LogEntry[] = [];
  for (let i = 0; i < data.length; i += size) {
    entries.push(...parser.push(data.subarray(i, i + size)));
  }
  entries.push(...parser.end());
  return { entries, errors };
}

const brief = (entries: LogEntry[]) =>
  entries.map((e) => `${e.stream}:${e.complete ? "F" : "P"}:${e.content.toString("latin1")}`);

describe("entryOf", () => {
  test("splits off the timestamp and the newline", () => {
    assert.deepEqual(entryOf("stdout", Buffer.from(`${TS} hello world\n`)), {
      timestamp: NS,
      stream: "stdout",
      content: Buffer.from("hello world"),
      complete: true,
    });
  });

  test("a message without newline is a piece", () => {
    const entry = entryOf("stderr", Buffer.from(`${TS} half`));
    assert.equal(entry?.complete, false);
    assert.equal(entry?.content.toString(), "half");
  });

  test("\\r\\n ends a line as \\n does; a lone \\r stays", () => {
    assert.equal(entryOf("stdout", Buffer.from(`${TS} tty\r\n`))?.content.toString(), "tty");
    assert.equal(entryOf("stdout", Buffer.from(`${TS} a\rb\n`))?.content.toString(), "a\rb");
    assert.equal(entryOf("stdout", Buffer.from(`${TS} \n`))?.content.length, 0);
  });

  test("no timestamp, no entry", () => {
    assert.equal(entryOf("stdout", Buffer.from("Error grabbing logs: boom\n")), undefined);
    assert.equal(entryOf("stdout", Buffer.from("nospace")), undefined);
  });
});

describe("multiplexed stream (no TTY)", () => {
  const body = Buffer.concat([
    frame(1, `${TS} out line\n`),
    frame(2, `${TS2} err line\n`),
    frame(1, `${TS2} no newline`),
    frame(2, `${TS2} \n`),
  ]);
  const want = ["stdout:F:out line", "stderr:F:err line", "stdout:P:no newline", "stderr:F:"];

  test("one message per frame, streams by the header", () => {
    const { entries, errors } = parse(false, body);
    assert.deepEqual(brief(entries), want);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      entries.map((e) => e.timestamp),
      [NS, NS2, NS2, NS2],
    );
  });

  for (const size of [1, 3, 7, 8, 9, 50]) {
    test(`the same whatever the chunks (${size} bytes)`, () => {
      assert.deepEqual(brief(parse(false, body, size).entries), want);
    });
  }

  test("the engine's own errors (stream 3) are reported, not logged", () => {
    const { entries, errors } = parse(
      false,
      Buffer.concat([frame(3, "Error grabbing logs: invalid character\n"), frame(1, `${TS} ok\n`)]),
    );
    assert.deepEqual(brief(entries), ["stdout:F:ok"]);
    assert.deepEqual(errors, ["Error grabbing logs: invalid character"]);
  });

  test("a stream cut inside a frame reports it", () => {
    const { entries, errors } = parse(false, frame(1, `${TS} cut\n`).subarray(0, 20));
    assert.deepEqual(entries, []);
    assert.equal(errors.length, 1);
  });

  test("a 16 KiB piece is a piece, its end a line", () => {
    const piece = "a".repeat(DOCKER_PIECE_SIZE);
    const { entries } = parse(
      false,
      Buffer.concat([frame(1, `${TS} ${piece}`), frame(1, `${TS} tail\n`)]),
      4096,
    );
    assert.deepEqual(
      entries.map((e) => [e.complete, e.content.length]),
      [
        [false, DOCKER_PIECE_SIZE],
        [true, 4],
      ],
    );
  });
});

describe("raw stream (TTY)", () => {
  test("messages end at their newline, all stdout", () => {
    const body = Buffer.from(`${TS} one\r\n${TS2} two\r\n${TS2} three`);
    for (const size of [1, 5, body.length]) {
      assert.deepEqual(brief(parse(true, body, size).entries), [
        "stdout:F:one",
        "stdout:F:two",
        "stdout:P:three",
      ]);
    }
  });

  test("a 16 KiB piece ends where the next timestamp starts", () => {
    const piece = "b".repeat(DOCKER_PIECE_SIZE);
    const body = Buffer.from(`${TS} ${piece}${TS} ${piece}${TS} end\r\n${TS2} next\r\n`);
    for (const size of [1000, 16391, body.length]) {
      const { entries } = parse(true, body, size);
      assert.deepEqual(
        entries.map((e) => [e.complete, e.content.length, e.timestamp]),
        [
          [false, DOCKER_PIECE_SIZE, NS],
          [false, DOCKER_PIECE_SIZE, NS],
          [true, 3, NS],
          [true, 4, NS2],
        ],
      );
    }
  });

  test("a line of exactly 16 KiB: the piece, then an empty end of line", () => {
    const piece = "c".repeat(DOCKER_PIECE_SIZE);
    const { entries } = parse(true, Buffer.from(`${TS} ${piece}${TS} \r\n`));
    assert.deepEqual(
      entries.map((e) => [e.complete, e.content.length]),
      [
        [false, DOCKER_PIECE_SIZE],
        [true, 0],
      ],
    );
  });

  test("a piece widened by U+FFFD (json-file) still ends at the next timestamp", () => {
    const widened = `${"\uFFFD".repeat(10)}${"d".repeat(DOCKER_PIECE_SIZE - 10)}`;
    const body = Buffer.from(`${TS} ${widened}${TS2} rest\n`);
    const { entries } = parse(true, body, 3000);
    assert.deepEqual(
      entries.map((e) => [e.complete, e.content.length]),
      [
        [false, Buffer.byteLength(widened)],
        [true, 4],
      ],
    );
  });

  test("a timestamp inside a short line is content", () => {
    const { entries } = parse(true, Buffer.from(`${TS} said ${TS2} then\r\n`));
    assert.deepEqual(brief(entries), [`stdout:F:said ${TS2} then`]);
  });

  test("a line the engine wrote without timestamp is reported", () => {
    const { entries, errors } = parse(
      true,
      Buffer.from(`Error grabbing logs: something went wrong here\n${TS} ok\n`),
    );
    assert.deepEqual(brief(entries), ["stdout:F:ok"]);
    assert.deepEqual(errors, ["Error grabbing logs: something went wrong here"]);
  });

  test("timestamps in the engine's zone", () => {
    const { entries } = parse(true, Buffer.from("2026-11-23T01:16:06.839593477+01:00 x\n"));
    assert.equal(entries[0]?.timestamp, NS);
  });
});
