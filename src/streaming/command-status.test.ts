import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { legacyStatusText, ResizeDecoder, statusJson } from "./command-status.ts";

describe("statusJson (v4/v5 error stream)", () => {
  test("success is the bare Success status", () => {
    assert.equal(statusJson({ kind: "success" }), '{"metadata":{},"status":"Success"}');
  });

  test("a non-zero exit carries the code as an ExitCode cause, as client-go reads it", () => {
    const status = JSON.parse(statusJson({ kind: "exit", code: 137 }));
    assert.equal(status.status, "Failure");
    assert.equal(status.reason, "NonZeroExitCode");
    assert.deepEqual(status.details.causes, [{ reason: "ExitCode", message: "137" }]);
    assert.deepEqual(status.metadata, {});
  });

  test("other failures are InternalError with code 500", () => {
    const status = JSON.parse(statusJson({ kind: "error", message: "engine down" }));
    assert.equal(status.reason, "InternalError");
    assert.equal(status.code, 500);
    assert.match(status.message, /engine down/);
  });

  test("v1–v3 send nothing on success and text otherwise", () => {
    assert.equal(legacyStatusText({ kind: "success" }), "");
    assert.match(legacyStatusText({ kind: "exit", code: 2 }), /non-zero exit code.*2/);
  });
});

describe("ResizeDecoder", () => {
  test("decodes newline-separated sizes split anywhere", () => {
    const decoder = new ResizeDecoder();
    const text = '{"Width":80,"Height":24}\n{"Width":120,"Height":40}\n';
    const sizes = [];
    for (const ch of text) sizes.push(...decoder.push(ch));
    assert.deepEqual(sizes, [
      { width: 80, height: 24 },
      { width: 120, height: 40 },
    ]);
  });

  test("needs no newline and skips malformed or absurd sizes", () => {
    const decoder = new ResizeDecoder();
    assert.deepEqual(decoder.push('{"Width":1,"Height":2}{"Width":-1,"Height":5}{"Width":"x"}'), [
      { width: 1, height: 2 },
    ]);
  });

  test("braces inside strings do not confuse it", () => {
    const decoder = new ResizeDecoder();
    assert.deepEqual(decoder.push('{"note":"}{","Width":3,"Height":4}'), [{ width: 3, height: 4 }]);
  });

  test("drops an endless unterminated object instead of buffering it", () => {
    const decoder = new ResizeDecoder();
    decoder.push(`{"Width":${"9".repeat(5000)}`);
    assert.deepEqual(decoder.push('{"Width":5,"Height":6}'), [{ width: 5, height: 6 }]);
  });
});
