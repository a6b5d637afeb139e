import assert from "node:assert/strict";
import { test } from "node:test";
import { type CheckResult, exitCodeOf, formatReport } from "./check.ts";

const ok: CheckResult = {
  name: "engine",
  status: "ok",
  detail: "Docker Engine 28.5.2",
  fix: "unused",
};
const warn: CheckResult = {
  name: "cgroups",
  status: "warn",
  detail: "cgroup v1",
  fix: "boot with v2",
};
const fail: CheckResult = { name: "cni-config", status: "fail", detail: "none", fix: "write one" };

test("one aligned line per check, the fix below warnings and failures only, then a summary", () => {
  assert.equal(
    formatReport([ok, warn, fail]),
    [
      "[ok]   engine      Docker Engine 28.5.2",
      "[warn] cgroups     cgroup v1",
      "                   fix: boot with v2",
      "[FAIL] cni-config  none",
      "                   fix: write one",
      "berth doctor: 1 check failed, 1 warning",
      "",
    ].join("\n"),
  );
  assert.match(formatReport([ok]), /berth doctor: no failures, 0 warnings\n$/);
});

test("exit 1 on any failure; warnings and notes alone exit 0", () => {
  assert.equal(exitCodeOf([ok, warn, { ...ok, status: "info" }]), 0);
  assert.equal(exitCodeOf([ok, fail]), 1);
});
