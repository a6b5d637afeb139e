import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  const valid: Array<{ text: string; ms: number }> = [
    { text: "0", ms: 0 },
    { text: "30", ms: 30_000 },
    { text: "500ms", ms: 500 },
    { text: "90s", ms: 90_000 },
    { text: "1m", ms: 60_000 },
    { text: "2h", ms: 7_200_000 },
    { text: "1m30s", ms: 90_000 },
    { text: "1h30m", ms: 5_400_000 },
    { text: "1h2m3s4ms", ms: 3_723_004 },
    { text: "1.5s", ms: 1_500 },
    { text: "0.5h", ms: 1_800_000 },
    { text: "  45s  ", ms: 45_000 },
  ];
  for (const { text, ms } of valid) {
    test(`${JSON.stringify(text)} → ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }

  const invalid = [
    "",
    "   ",
    "s",
    "abc",
    "10x",
    "1.5",
    "-1s",
    "1s2",
    "1 s",
    "1s 2m",
    "m1",
    "1d",
    "1us",
    "1e3s",
  ];
  for (const text of invalid) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseDuration(text),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.includes(`"${text}"`), err.message);
          assert.match(err.message, /is not a duration/);
          return true;
        },
      );
    });
  }
});
