import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { UNSET_APPLIED } from "../../test/support/store-records.ts";
import { ContainerConfigSchema, ContainerState } from "../gen/runtime/v1/api_pb.js";
import type { ContainerRecord, ProcessState } from "../store/records.ts";
import {
  containerState,
  exitReason,
  processTimes,
  toCriContainer,
  toCriContainerStatus,
} from "./container-convert.ts";

const CREATED = 1_000n;

function record(process: Partial<ProcessState>): ContainerRecord {
  return {
    id: "c".repeat(64),
    name: "k8s_app_pod_ns_uid_0",
    sandboxId: "s".repeat(64),
    config: create(ContainerConfigSchema, { metadata: { name: "app" } }),
    createdAt: CREATED,
    imageId: `sha256:${"a".repeat(64)}`,
    userImage: "busybox",
    logPath: "",
    process: {
      status: "created",
      pid: 0,
      exitCode: 0,
      oomKilled: false,
      error: "",
      startedAt: 0n,
      finishedAt: 0n,
      ...process,
    },
    applied: { ...UNSET_APPLIED, stopSignal: "SIGTERM" },
  };
}

function times(process: Partial<ProcessState>) {
  const r = record(process);
  return processTimes(r, containerState(r));
}

describe("processTimes", () => {
  test("created: neither started nor finished", () => {
    assert.deepEqual(times({}), { startedAt: 0n, finishedAt: 0n });
  });

  test("running: started, not finished", () => {
    assert.deepEqual(times({ status: "running", startedAt: 2_000n }), {
      startedAt: 2_000n,
      finishedAt: 0n,
    });
  });

  test("exited: the engine's times", () => {
    assert.deepEqual(times({ status: "exited", startedAt: 2_000n, finishedAt: 3_000n }), {
      startedAt: 2_000n,
      finishedAt: 3_000n,
    });
  });

  test("exited before the engine recorded the start: finished no earlier than started", () => {
    // Docker 20.10 stamps StartedAt after runc returned; a process that exits at once can
    // finish "before" that.
    assert.deepEqual(times({ status: "exited", startedAt: 2_500n, finishedAt: 2_400n }), {
      startedAt: 2_500n,
      finishedAt: 2_500n,
    });
  });

  test("start failed (ContainerCannotRun): both times are the creation time, as dockershim", () => {
    const r = record({ status: "created", error: "exec: no such file", exitCode: 127 });
    const state = containerState(r);
    assert.equal(state, ContainerState.CONTAINER_EXITED);
    assert.equal(exitReason(r, state), "ContainerCannotRun");
    assert.deepEqual(processTimes(r, state), { startedAt: CREATED, finishedAt: CREATED });
  });
});

describe("adopted containers are reported as cri-dockerd reported them", () => {
  const names = {
    repoTags: ["reg:5000/busybox:1", "busybox:1"],
    repoDigests: [`reg:5000/busybox@sha256:${"d".repeat(64)}`],
  };
  const at = 1_796_136_936_248_178_347n;

  test("cri-dockerd's: list in whole seconds and the bare ID; status with its prefixes", () => {
    const adopted = { ...record({ status: "running" }), createdAt: at, criDockerd: true };
    const listed = toCriContainer(adopted, names);
    assert.equal(listed.createdAt, 1_796_136_936_000_000_000n);
    assert.equal(listed.imageRef, adopted.imageId);
    assert.equal(listed.image.image, "busybox");
    const status = toCriContainerStatus(adopted, names, undefined);
    assert.equal(status.createdAt, at);
    assert.equal(status.imageRef, `docker-pullable://${names.repoDigests[0]}`);
    assert.equal(status.image.image, "reg:5000/busybox:1");
    const undigested = toCriContainerStatus(adopted, { repoTags: [], repoDigests: [] }, undefined);
    assert.equal(undigested.imageRef, `docker://${adopted.imageId}`);
  });

  test("berth's own: nanoseconds and containerd's image refs", () => {
    const own = { ...record({ status: "running" }), createdAt: at };
    assert.equal(toCriContainer(own, names).createdAt, at);
    assert.equal(toCriContainer(own, names).imageRef, names.repoDigests[0]);
    assert.equal(toCriContainerStatus(own, names, undefined).imageRef, names.repoDigests[0]);
    assert.equal(toCriContainerStatus(own, names, undefined).image.image, "busybox");
  });
});
