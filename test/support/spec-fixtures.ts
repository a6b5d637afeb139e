import assert from "node:assert/strict";
import { BerthError } from "../../src/errors.ts";
import { CAPABILITY_NAMES } from "../../src/runtime/capabilities.ts";
import type { HostLimits } from "../../src/runtime/host-limits.ts";

/** A host like the CI machines: Docker 20.10, no CAP_SYS_RESOURCE, cgroup v1, no AppArmor. */
export const RESTRICTED_HOST: HostLimits = {
  apiVersion: "1.41",
  recursiveReadOnly: false,
  capabilityBoundingSet: CAPABILITY_NAMES.filter((name) => name !== "CAP_SYS_RESOURCE"),
  fullCapabilities: false,
  minOomScoreAdj: 0,
  cgroupDriver: "cgroupfs",
  cgroupVersion: 1,
  hostDevices: [{ path: "/dev/null" }, { path: "/dev/fuse" }],
  appArmorEnabled: false,
  loadedAppArmorProfiles: new Set(),
  seccompEnabled: true,
};

/** A real node with a current engine: every capability, cgroup v2 with systemd, AppArmor. */
export const FULL_HOST: HostLimits = {
  ...RESTRICTED_HOST,
  apiVersion: "1.51",
  recursiveReadOnly: true,
  capabilityBoundingSet: [...CAPABILITY_NAMES],
  fullCapabilities: true,
  minOomScoreAdj: -1000,
  cgroupDriver: "systemd",
  cgroupVersion: 2,
  appArmorEnabled: true,
  loadedAppArmorProfiles: new Set(["k8s-nginx"]),
};

/** Asserts that `fn` throws berth's INVALID_ARGUMENT with a message matching `message`. */
export function assertInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected BerthError, got ${String(err)}`);
    assert.equal(err.kind, "InvalidArgument");
    assert.match(err.message, message);
    return true;
  });
}
