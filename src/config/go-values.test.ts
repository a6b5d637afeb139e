import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatGoDuration, parseGoBool, parseGoDuration, parseGoInt32 } from "./go-values.ts";

describe("Go flag values", () => {
  test("ParseBool's spellings", () => {
    for (const yes of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(parseGoBool(yes), true);
    for (const no of ["0", "f", "F", "FALSE", "false", "False"])
      assert.equal(parseGoBool(no), false);
    for (const bad of ["yes", "on", "", "tRUE"]) assert.throws(() => parseGoBool(bad), /boolean/);
  });

  test("durations as time.ParseDuration reads them", () => {
    const cases: Array<[string, number]> = [
      ["0", 0],
      ["2m0s", 120_000],
      ["1m30s", 90_000],
      ["1.5h", 5_400_000],
      ["300ms", 300],
      ["1h2m3s4ms", 3_723_004],
      ["1500us", 1.5],
      ["+5s", 5000],
      ["-1s", -1000],
      [".5s", 500],
    ];
    for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, text);
    for (const bad of ["", "30", "1x", "1m 30s", "m", "soon", "1.s.", "-"]) {
      assert.throws(() => parseGoDuration(bad), /is not a duration/, bad);
    }
  });

  test("durations formatted as time.Duration.String()", () => {
    const cases: Array<[number, string]> = [
      [0, "0s"],
      [60_000, "1m0s"],
      [120_000, "2m0s"],
      [90_000, "1m30s"],
      [3_600_000, "1h0m0s"],
      [500, "500ms"],
      [1500, "1.5s"],
      [-2000, "-2s"],
    ];
    for (const [ms, text] of cases) {
      assert.equal(formatGoDuration(ms), text);
      assert.equal(parseGoDuration(text), ms, `${text} parses back`);
    }
  });

  test("int32 as strconv.ParseInt(s, 0, 32)", () => {
    const cases: Array<[string, number]> = [
      ["0", 0],
      ["1450", 1450],
      ["-7", -7],
      ["0x10", 16],
      ["0o17", 15],
      ["017", 15],
      ["0b101", 5],
      ["0x_ff", 255],
      ["1_000", 1000],
      ["2147483647", 2 ** 31 - 1],
    ];
    for (const [text, value] of cases) assert.equal(parseGoInt32(text), value, text);
    assert.throws(() => parseGoInt32("2147483648"), /out of range/);
    for (const bad of ["", "1.5", "12a", "08", "1__0", "1_"]) {
      assert.throws(() => parseGoInt32(bad), /not an integer/, bad);
    }
  });
});
