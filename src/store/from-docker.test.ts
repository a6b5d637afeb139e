import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { toJsonString } from "@bufbuild/protobuf";
import { containerConfig, podConfig } from "../../test/support/cri-requests.ts";
import { FakeEngine } from "../../test/support/fake-engine.ts";
import { networkState } from "../../test/support/store-records.ts";
import type { ContainerInspect } from "../docker/types.ts";
import { ContainerConfigSchema, PodSandboxConfigSchema } from "../gen/runtime/v1/api_pb.js";
import { orphanSandboxOf, processStateOf, recordOf } from "./from-docker.ts";
import {
  berthLabels,
  LABEL_CONFIG,
  LABEL_LOG_PATH,
  LABEL_RUNTIME_HANDLER,
  LABEL_SANDBOX_ID,
  LABEL_USER_IMAGE,
} from "./labels.ts";

let engine: FakeEngine;
let image: string;

beforeEach(() => {
  engine = new FakeEngine();
  image = engine.addImage(["busybox:latest"]);
});

async function inspectOf(
  name: string,
  labels: Record<string, string>,
  hostConfig: object = {},
): Promise<ContainerInspect> {
  const { Id } = await engine.createContainer(name, {
    Image: "busybox:latest",
    Labels: labels,
    User: "1000:1000",
    StopSignal: "SIGINT",
    Tty: true,
    HostConfig: hostConfig,
  });
  return engine.inspectContainer(Id);
}

const sandboxLabels = (extra: Record<string, string> = {}) =>
  berthLabels({
    kind: "sandbox",
    instance: "i",
    configJson: toJsonString(PodSandboxConfigSchema, podConfig("web")),
    criLabels: {},
    extra,
  });

describe("recordOf", () => {
  test("a sandbox: config from its label, name without the slash, no network yet", async () => {
    const inspect = await inspectOf(
      "k8s_POD_web",
      sandboxLabels({ [LABEL_RUNTIME_HANDLER]: "runc" }),
    );
    const entry = recordOf(inspect);
    assert.equal(entry?.kind, "sandbox");
    if (entry?.kind !== "sandbox") return;
    assert.equal(entry.record.id, inspect.Id);
    assert.equal(entry.record.name, "k8s_POD_web");
    assert.equal(entry.record.config.metadata?.uid, "uid-web");
    assert.equal(entry.record.runtimeHandler, "runc");
    assert.equal(entry.record.network, undefined);
    assert.equal(entry.record.createdAt, BigInt(Date.parse(inspect.Created)) * 1_000_000n);
  });

  test("a container: sandbox, image, log path and what the engine applied", async () => {
    const labels = berthLabels({
      kind: "container",
      instance: "i",
      configJson: toJsonString(ContainerConfigSchema, containerConfig("app", "busybox")),
      criLabels: {},
      extra: {
        [LABEL_SANDBOX_ID]: "s".repeat(64),
        [LABEL_LOG_PATH]: "/var/log/pods/x/app/0.log",
        [LABEL_USER_IMAGE]: "busybox",
      },
    });
    const inspect = await inspectOf("k8s_app", labels, {
      CpuShares: 512,
      CpuQuota: 50000,
      CpuPeriod: 100000,
      Memory: 64 << 20,
      OomScoreAdj: 999,
      GroupAdd: ["10"],
    });
    const entry = recordOf(inspect);
    assert.equal(entry?.kind, "container");
    if (entry?.kind !== "container") return;
    assert.equal(entry.record.sandboxId, "s".repeat(64));
    assert.equal(entry.record.imageId, image);
    assert.equal(entry.record.userImage, "busybox");
    assert.equal(entry.record.logPath, "/var/log/pods/x/app/0.log");
    assert.equal(entry.record.config.metadata?.name, "app");
    assert.deepEqual(entry.record.applied, {
      cpuPeriod: 100000,
      cpuQuota: 50000,
      cpuShares: 512,
      cpusetCpus: "",
      cpusetMems: "",
      memory: 64 << 20,
      memorySwap: 0,
      oomScoreAdj: 999,
      user: "1000:1000",
      groupAdd: ["10"],
      stopSignal: "SIGINT",
      tty: true,
      openStdin: false,
    });
  });

  test("not berth's, or with a damaged config label: left alone", async () => {
    assert.equal(recordOf(await inspectOf("other", { app: "x" })), undefined);
    const damaged = { ...sandboxLabels(), [LABEL_CONFIG]: "{not json" };
    assert.equal(recordOf(await inspectOf("damaged", damaged)), undefined);
    const noConfig = sandboxLabels();
    delete noConfig[LABEL_CONFIG];
    assert.equal(recordOf(await inspectOf("bare", noConfig)), undefined);
  });
});

describe("processStateOf", () => {
  test("Docker's state in nanoseconds; the zero time is 0", async () => {
    const inspect = await inspectOf("p", sandboxLabels());
    assert.deepEqual(processStateOf(inspect), {
      status: "created",
      pid: 0,
      exitCode: 0,
      oomKilled: false,
      error: "",
      startedAt: 0n,
      finishedAt: 0n,
    });
    inspect.State = {
      ...inspect.State,
      Status: "exited",
      ExitCode: 137,
      OOMKilled: true,
      StartedAt: "2026-01-01T00:00:00.123456789Z",
      FinishedAt: "2026-01-01T00:00:01Z",
    };
    const state = processStateOf(inspect);
    assert.equal(state.startedAt, 1_767_225_600_123_456_789n);
    assert.equal(state.finishedAt, 1_767_225_601_000_000_000n);
    assert.equal(state.oomKilled, true);
    assert.equal(state.exitCode, 137);
  });
});

describe("orphanSandboxOf", () => {
  test("a sandbox rebuilt from its checkpoint, status gone", () => {
    const state = networkState();
    const record = orphanSandboxOf("o".repeat(64), state);
    assert.equal(record?.process.status, "gone");
    assert.equal(record?.name, state.sandbox.name);
    assert.equal(record?.config.metadata?.name, "web");
    assert.equal(record?.createdAt, 1_700_000_000_000_000_000n);
    assert.equal(record?.network, state);
  });

  test("undefined when the saved config cannot be read", () => {
    const state = networkState();
    state.sandbox.configJson = "{broken";
    assert.equal(orphanSandboxOf("o".repeat(64), state), undefined);
  });
});
