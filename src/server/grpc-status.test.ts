import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { DockerError } from "../docker/errors.ts";
import { BerthError, type ErrorKind } from "../errors.ts";
import { toGrpcFailure } from "./grpc-status.ts";

const kinds: Array<{ kind: ErrorKind; code: status }> = [
  { kind: "InvalidArgument", code: status.INVALID_ARGUMENT },
  { kind: "NotFound", code: status.NOT_FOUND },
  { kind: "AlreadyExists", code: status.ALREADY_EXISTS },
  { kind: "FailedPrecondition", code: status.FAILED_PRECONDITION },
  { kind: "Unavailable", code: status.UNAVAILABLE },
  { kind: "DeadlineExceeded", code: status.DEADLINE_EXCEEDED },
  { kind: "Cancelled", code: status.CANCELLED },
  { kind: "ResourceExhausted", code: status.RESOURCE_EXHAUSTED },
  { kind: "Unauthenticated", code: status.UNAUTHENTICATED },
  { kind: "PermissionDenied", code: status.PERMISSION_DENIED },
  { kind: "Unimplemented", code: status.UNIMPLEMENTED },
  { kind: "Internal", code: status.INTERNAL },
];

describe("toGrpcFailure", () => {
  for (const { kind, code } of kinds) {
    test(`BerthError ${kind} → ${status[code]}, message kept`, () => {
      assert.deepEqual(toGrpcFailure(new BerthError(kind, `a ${kind} happened`)), {
        code,
        details: `a ${kind} happened`,
      });
    });

    test(`DockerError ${kind} → ${status[code]}`, () => {
      assert.deepEqual(toGrpcFailure(new DockerError(kind, "engine said no", 499)), {
        code,
        details: "engine said no",
      });
    });
  }

  test("the table maps each of the 12 kinds to a distinct code", () => {
    assert.equal(new Set(kinds.map(({ code }) => code)).size, 12);
  });

  test("a DOMException named TimeoutError → DEADLINE_EXCEEDED", () => {
    const failure = toGrpcFailure(new DOMException("signal timed out", "TimeoutError"));
    assert.equal(failure.code, status.DEADLINE_EXCEEDED);
  });

  test("an AbortSignal.timeout reason → DEADLINE_EXCEEDED", async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    assert.equal(toGrpcFailure(signal.reason).code, status.DEADLINE_EXCEEDED);
  });

  test("a DOMException named AbortError → CANCELLED", () => {
    const failure = toGrpcFailure(new DOMException("This operation was aborted", "AbortError"));
    assert.equal(failure.code, status.CANCELLED);
  });

  test("a default AbortController reason → CANCELLED", () => {
    const controller = new AbortController();
    controller.abort();
    assert.equal(toGrpcFailure(controller.signal.reason).code, status.CANCELLED);
  });

  test("a plain Error → INTERNAL with its message kept", () => {
    const failure = toGrpcFailure(new TypeError("cannot read properties of undefined"));
    assert.equal(failure.code, status.INTERNAL);
    assert.match(failure.details, /cannot read properties of undefined/);
  });

  test("a thrown non-Error → INTERNAL with its text", () => {
    const failure = toGrpcFailure("something odd");
    assert.equal(failure.code, status.INTERNAL);
    assert.match(failure.details, /something odd/);
  });

  test("ENOSPC / EDQUOT anywhere in the cause chain → RESOURCE_EXHAUSTED, message (path) kept", () => {
    for (const code of ["ENOSPC", "EDQUOT"]) {
      const errno = Object.assign(new Error(`${code}: no space left on device, write`), { code });
      const wrapped = new Error("cannot write /var/lib/berth/sandboxes/x.json: no space", {
        cause: errno,
      });
      const internal = new BerthError(
        "Internal",
        `cannot write the CNI cache: ${wrapped.message}`,
        {
          cause: wrapped,
        },
      );
      for (const err of [errno, wrapped, internal]) {
        assert.deepEqual(toGrpcFailure(err), {
          code: status.RESOURCE_EXHAUSTED,
          details: err.message,
        });
      }
    }
    const other = Object.assign(new Error("EIO"), { code: "EIO" });
    assert.equal(toGrpcFailure(other).code, status.INTERNAL);
  });
});
