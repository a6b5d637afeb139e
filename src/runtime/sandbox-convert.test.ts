import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sandboxEntry } from "../../test/support/store-records.ts";
import { PodSandboxState } from "../gen/runtime/v1/api_pb.js";
import type { SandboxRecord } from "../store/records.ts";
import { toPodSandbox, toPodSandboxStatus } from "./sandbox-convert.ts";

const AT = 1_796_136_936_248_178_347n;

function sandbox(criDockerd: boolean): SandboxRecord {
  const entry = sandboxEntry("a".repeat(64));
  assert.equal(entry.kind, "sandbox");
  return { ...(entry.record as SandboxRecord), createdAt: AT, criDockerd };
}

describe("sandbox creation times", () => {
  test("an adopted pod is listed in whole seconds, as cri-dockerd listed it; its status has ns", () => {
    const adopted = sandbox(true);
    assert.equal(
      toPodSandbox(adopted, PodSandboxState.SANDBOX_READY).createdAt,
      1_796_136_936n * 1_000_000_000n,
    );
    assert.equal(toPodSandboxStatus(adopted, PodSandboxState.SANDBOX_READY).createdAt, AT);
  });

  test("berth's own pod has nanoseconds in both", () => {
    const own = sandbox(false);
    assert.equal(toPodSandbox(own, PodSandboxState.SANDBOX_READY).createdAt, AT);
    assert.equal(toPodSandboxStatus(own, PodSandboxState.SANDBOX_READY).createdAt, AT);
  });
});
