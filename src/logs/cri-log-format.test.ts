import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  criLinesOf,
  dockerSince,
  formatCriLine,
  formatTimestamp,
  parseCriLine,
  parseTimestamp,
} from "./cri-log-format.ts";

const T = 1475713029669794202n; // 2016-10-06T00:17:09.669794202Z, the CRI docs' example

describe("formatTimestamp", () => {
  const cases: Array<[bigint, string]> = [
    [T, "2016-10-06T00:17:09.669794202Z"],
    // Go's RFC3339Nano trims trailing zeros of the fraction, and a whole second has none.
    [1475713029669794200n, "2016-10-06T00:17:09.6697942Z"],
    [1475713029500000000n, "2016-10-06T00:17:09.5Z"],
    [1475713029000000000n, "2016-10-06T00:17:09Z"],
    [1475713029000000001n, "2016-10-06T00:17:09.000000001Z"],
    [0n, "1970-01-01T00:00:00Z"],
  ];
  for (const [nanos, text] of cases) {
    test(text, () => assert.equal(formatTimestamp(nanos), text));
  }

  test("refuses times before 1970", () => {
    assert.throws(() => formatTimestamp(-1n), RangeError);
  });
});

describe("parseTimestamp", () => {
  const valid: Array<[string, bigint]> = [
    ["2016-10-06T00:17:09.669794202Z", T],
    ["2016-10-06T00:17:09.6697942Z", 1475713029669794200n],
    ["2016-10-06T00:17:09Z", 1475713029000000000n],
    ["2016-10-06T00:17:09.5Z", 1475713029500000000n],
    // Go drops fraction digits past nanoseconds.
    ["2016-10-06T00:17:09.669794202999Z", T],
    // The engine's zone (Docker's local driver reads back in local time).
    ["2016-10-06T02:17:09.669794202+02:00", T],
    ["2016-10-05T19:47:09.669794202-04:30", T],
    ["2024-02-29T12:00:00Z", 1709208000000000000n],
    // Go's zero time, which the engine uses for "never".
    ["0001-01-01T00:00:00Z", -62135596800000000000n],
  ];
  for (const [text, nanos] of valid) {
    test(`accepts ${text}`, () => assert.equal(parseTimestamp(text), nanos));
  }

  const invalid = [
    "",
    "2016-10-06 00:17:09Z",
    "2016-10-06T00:17:09",
    "2016-10-06T00:17:09.Z",
    "2016-10-06T00:17:09z",
    "2016-13-06T00:17:09Z",
    "2016-04-31T00:17:09Z",
    "2023-02-29T00:00:00Z",
    "2016-10-06T24:00:00Z",
    "2016-10-06T00:60:00Z",
    "2016-10-06T00:00:60Z",
    "2016-10-06T00:17:09+0200",
    "16-10-06T00:17:09Z",
  ];
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseTimestamp(text), undefined));
  }

  test("a second seen before is no excuse for a bad fraction", () => {
    assert.equal(parseTimestamp("2016-10-06T00:17:09.669794202Z"), T);
    assert.equal(parseTimestamp("2016-10-06T00:17:09.000000007Z"), T - 669794195n);
    assert.equal(parseTimestamp("2016-10-06T00:17:09.66979420xZ"), undefined);
    assert.equal(parseTimestamp("2016-10-06T00:17:09,669794202Z"), undefined);
    assert.equal(parseTimestamp("2016-10-06T00:17:10.000000000Z"), T - 669794202n + 1_000_000_000n);
  });

  test("round-trips what formatTimestamp writes", () => {
    for (const nanos of [T, T + 1n, T - 202n, 1_000_000_000n, 4102444799999999999n]) {
      assert.equal(parseTimestamp(formatTimestamp(nanos)), nanos);
    }
  });
});

describe("dockerSince", () => {
  test("seconds and nanoseconds, padded, as the engine parses them", () => {
    assert.equal(dockerSince(T), "1475713029.669794202");
    assert.equal(dockerSince(1475713029000000001n), "1475713029.000000001");
    assert.equal(dockerSince(0n), "0.000000000");
  });
});

describe("formatCriLine and parseCriLine", () => {
  test("the CRI docs' example lines", () => {
    const line = Buffer.from("2016-10-06T00:17:09.669794202Z stdout P log content 1\n");
    assert.deepEqual(parseCriLine(line), {
      timestamp: T,
      stream: "stdout",
      tag: "P",
      content: Buffer.from("log content 1"),
    });
    const full = parseCriLine(Buffer.from("2016-10-06T00:17:09.669794203Z stderr F log content 2"));
    assert.equal(full?.stream, "stderr");
    assert.equal(full?.tag, "F");
    assert.equal(full?.content.toString(), "log content 2");
  });

  test("writes what it parses, byte for byte", () => {
    const content = Buffer.from([0xe2, 0x82, 0x20, 0xff, 0x00, 0x41]);
    const bytes = formatCriLine({ timestamp: T, stream: "stderr", tag: "F", content });
    assert.deepEqual(
      bytes,
      Buffer.concat([
        Buffer.from("2016-10-06T00:17:09.669794202Z stderr F "),
        content,
        Buffer.from("\n"),
      ]),
    );
    assert.deepEqual(parseCriLine(bytes), { timestamp: T, stream: "stderr", tag: "F", content });
  });

  test("an empty line keeps the space after its tag (the kubelet needs it)", () => {
    const bytes = formatCriLine({
      timestamp: T,
      stream: "stdout",
      tag: "F",
      content: Buffer.alloc(0),
    });
    assert.equal(bytes.toString(), "2016-10-06T00:17:09.669794202Z stdout F \n");
    assert.equal(parseCriLine(bytes)?.content.length, 0);
  });

  test("tags may carry extensions; only a first tag P is partial", () => {
    assert.equal(parseCriLine(Buffer.from(`${formatTimestamp(T)} stdout P:x y`))?.tag, "P");
    assert.equal(parseCriLine(Buffer.from(`${formatTimestamp(T)} stdout F:P y`))?.tag, "F");
    assert.equal(parseCriLine(Buffer.from(`${formatTimestamp(T)} stdout X y`))?.tag, "F");
  });

  test("keeps spaces inside the content", () => {
    const line = parseCriLine(Buffer.from(`${formatTimestamp(T)} stdout F  two  spaces `));
    assert.equal(line?.content.toString(), " two  spaces ");
  });

  const rejected = [
    "2016-10-06T00:17:09.669794202Z stdout F",
    "2016-10-06T00:17:09.669794202Z stdout",
    "2016-10-06T00:17:09.669794202Z stdin F x",
    "yesterday stdout F x",
    "",
  ];
  for (const text of rejected) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseCriLine(Buffer.from(text)), undefined);
    });
  }
});

describe("criLinesOf", () => {
  const entry = (content: Buffer | string, complete: boolean) => ({
    timestamp: T,
    stream: "stdout" as const,
    content: typeof content === "string" ? Buffer.from(content) : content,
    complete,
  });
  const shape = (lines: ReturnType<typeof criLinesOf>) =>
    lines.map((line) => `${line.tag}${line.content.length}`);

  test("a line is one F line, a piece one P line", () => {
    assert.deepEqual(shape(criLinesOf(entry("hello", true))), ["F5"]);
    assert.deepEqual(shape(criLinesOf(entry("hello", false))), ["P5"]);
  });

  test("an empty line is kept; an empty piece is nothing", () => {
    assert.deepEqual(shape(criLinesOf(entry("", true))), ["F0"]);
    assert.deepEqual(criLinesOf(entry("", false)), []);
  });

  test("longer than the limit: P pieces of the limit, then the rest", () => {
    const big = Buffer.alloc(40000, "a");
    assert.deepEqual(shape(criLinesOf(entry(big, true))), ["P16384", "P16384", "F7232"]);
    assert.deepEqual(shape(criLinesOf(entry(big, false))), ["P16384", "P16384", "P7232"]);
    assert.deepEqual(shape(criLinesOf(entry(big, true), 10000)), [
      "P10000",
      "P10000",
      "P10000",
      "F10000",
    ]);
    assert.deepEqual(shape(criLinesOf(entry(big, true), 0)), ["F40000"]);
  });

  test("exactly the limit is not cut (as containerd)", () => {
    assert.deepEqual(shape(criLinesOf(entry(Buffer.alloc(16384), true))), ["F16384"]);
    assert.deepEqual(shape(criLinesOf(entry(Buffer.alloc(16385), true))), ["P16384", "F1"]);
  });

  test("the pieces join back to the content, all with its timestamp and stream", () => {
    const content = Buffer.from("é".repeat(9000));
    const lines = criLinesOf(entry(content, true));
    assert.deepEqual(Buffer.concat(lines.map((line) => line.content)), content);
    for (const line of lines) {
      assert.equal(line.timestamp, T);
      assert.equal(line.stream, "stdout");
    }
  });
});
