import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BerthError } from "../../errors.ts";
import { CgroupDriver } from "../../gen/runtime/v1/api_pb.js";
import { cgroupDriverOf } from "./runtime-config.ts";

describe("cgroupDriverOf", () => {
  test("systemd → CgroupDriver.SYSTEMD (0)", () => {
    assert.equal(cgroupDriverOf("systemd"), CgroupDriver.SYSTEMD);
    assert.equal(cgroupDriverOf("systemd"), 0);
  });

  test("cgroupfs → CgroupDriver.CGROUPFS (1)", () => {
    assert.equal(cgroupDriverOf("cgroupfs"), CgroupDriver.CGROUPFS);
    assert.equal(cgroupDriverOf("cgroupfs"), 1);
  });

  for (const driver of ["", "none", "Systemd", "CGROUPFS", " systemd"]) {
    test(`${JSON.stringify(driver)} → FailedPrecondition naming it`, () => {
      assert.throws(
        () => cgroupDriverOf(driver),
        (err: unknown) =>
          err instanceof BerthError &&
          err.kind === "FailedPrecondition" &&
          err.message.includes(`"${driver}"`),
      );
    });
  }
});
