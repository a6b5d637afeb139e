import assert from "node:assert/strict";
import { test } from "node:test";
import { type CapabilityFacts, evaluateCapabilities } from "./capability-checks.ts";

const all = ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"];
const root: CapabilityFacts = { euid: 0, bounding: all, all };

test("root with every capability is ok", () => {
  assert.equal(evaluateCapabilities(root).status, "ok");
});

test("without CAP_SYS_RESOURCE: a warning naming what berth adapts", () => {
  const result = evaluateCapabilities({
    ...root,
    bounding: all.filter((c) => c !== "CAP_SYS_RESOURCE"),
  });
  assert.equal(result.status, "warn");
  assert.match(
    result.detail,
    /lacks CAP_SYS_RESOURCE; berth adapts: negative oom_score_adj values are clamped/,
  );
  assert.match(result.detail, /privileged containers get the host's capabilities/);
});

test("without CAP_NET_ADMIN, or not root: a failure", () => {
  const noNet = evaluateCapabilities({
    ...root,
    bounding: all.filter((c) => c !== "CAP_NET_ADMIN"),
  });
  assert.equal(noNet.status, "fail");
  assert.match(noNet.detail, /lacks CAP_NET_ADMIN/);
  assert.equal(evaluateCapabilities({ ...root, euid: 1000 }).status, "fail");
});
