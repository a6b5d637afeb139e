import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  apiAtLeast,
  compareApiVersions,
  MAX_API_VERSION,
  MIN_API_VERSION,
  negotiateApiVersion,
} from "./api-version.ts";

describe("negotiateApiVersion", () => {
  const accepted: Array<{ engine: string; want: string }> = [
    { engine: "1.41", want: "1.41" },
    { engine: "1.43", want: "1.43" },
    { engine: "1.44", want: "1.44" },
    { engine: MAX_API_VERSION, want: MAX_API_VERSION },
    { engine: "1.52", want: MAX_API_VERSION },
    { engine: "1.99", want: MAX_API_VERSION },
    { engine: "2.0", want: MAX_API_VERSION },
  ];
  for (const { engine, want } of accepted) {
    test(`engine ${engine} → ${want}`, () => {
      assert.equal(negotiateApiVersion(engine), want);
    });
  }

  const tooOld = ["1.40", "1.24", "0.99"];
  for (const engine of tooOld) {
    test(`engine ${engine} is refused, naming it and ${MIN_API_VERSION}`, () => {
      assert.throws(
        () => negotiateApiVersion(engine),
        (err: unknown) =>
          err instanceof Error &&
          err.message.includes(engine) &&
          err.message.includes(MIN_API_VERSION),
      );
    });
  }

  const unreadable = ["", "garbage", "1", "1.41.0", "v1.41", " 1.41", "1.x"];
  for (const engine of unreadable) {
    test(`unreadable version ${JSON.stringify(engine)} is refused`, () => {
      assert.throws(() => negotiateApiVersion(engine), /unreadable API version/);
    });
  }

  // Engine min and max as Docker reports them in GET /version (ApiVersion, MinAPIVersion).
  const withMinimum: Array<{ engine: string; min: string; want: string; why: string }> = [
    { engine: "1.41", min: "1.12", want: "1.41", why: "Docker 20.10: its own newest" },
    { engine: "1.51", min: "1.24", want: "1.51", why: "Docker 28: its own newest" },
    { engine: "1.52", min: "1.44", want: MAX_API_VERSION, why: "Docker 29: berth's newest" },
    { engine: "1.51", min: "1.51", want: "1.51", why: "only one version accepted" },
    { engine: "1.60", min: "1.55", want: "1.55", why: "never below the engine's minimum" },
    { engine: "1.55", min: "1.55", want: "1.55", why: "minimum above berth's newest" },
  ];
  for (const { engine, min, want, why } of withMinimum) {
    test(`engine ${min}..${engine} → ${want} (${why})`, () => {
      assert.equal(negotiateApiVersion(engine, min), want);
    });
  }

  test("an unreadable minimum is refused, naming it", () => {
    assert.throws(
      () => negotiateApiVersion("1.52", "1.44.0"),
      /unreadable minimum API version "1\.44\.0"/,
    );
  });

  test("an engine too old is refused whatever its minimum", () => {
    assert.throws(() => negotiateApiVersion("1.40", "1.12"), /1\.40 is too old/);
  });

  test("the supported range is 1.41 to 1.51", () => {
    assert.equal(MIN_API_VERSION, "1.41");
    assert.equal(MAX_API_VERSION, "1.51");
  });
});

describe("compareApiVersions", () => {
  const cases: Array<{ a: string; b: string; sign: -1 | 0 | 1 }> = [
    { a: "1.41", b: "1.41", sign: 0 },
    { a: "1.41", b: "1.44", sign: -1 },
    { a: "1.44", b: "1.41", sign: 1 },
    { a: "1.9", b: "1.10", sign: -1 },
    { a: "1.100", b: "1.99", sign: 1 },
    { a: "2.0", b: "1.99", sign: 1 },
    { a: "1.99", b: "2.0", sign: -1 },
  ];
  for (const { a, b, sign } of cases) {
    test(`${a} vs ${b} → ${sign}`, () => {
      assert.equal(Math.sign(compareApiVersions(a, b)), sign);
    });
  }
});

describe("apiAtLeast", () => {
  const cases: Array<{ negotiated: string; wanted: string; want: boolean }> = [
    { negotiated: "1.44", wanted: "1.44", want: true },
    { negotiated: "1.45", wanted: "1.44", want: true },
    { negotiated: "1.43", wanted: "1.44", want: false },
    { negotiated: "1.10", wanted: "1.9", want: true },
  ];
  for (const { negotiated, wanted, want } of cases) {
    test(`${negotiated} ≥ ${wanted} is ${want}`, () => {
      assert.equal(apiAtLeast(negotiated, wanted), want);
    });
  }
});
