import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";

/** Asserts a CRI call fails with the given gRPC code; answers the error's details. */
export async function expectCode(
  call: Promise<unknown>,
  code: status,
  detailsPattern?: RegExp,
): Promise<string> {
  try {
    await call;
  } catch (err) {
    const failure = err as { code?: number; details?: string };
    assert.equal(
      failure.code,
      code,
      `expected ${status[code]}, got ${status[failure.code ?? -1] ?? failure.code}: ${failure.details}`,
    );
    if (detailsPattern) assert.match(failure.details ?? "", detailsPattern);
    return failure.details ?? "";
  }
  assert.fail(`expected ${status[code]}, but the call succeeded`);
}
