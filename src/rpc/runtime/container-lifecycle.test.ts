import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { containerConfig, podConfig } from "../../../test/support/cri-requests.ts";
import { engineError } from "../../../test/support/fake-engine.ts";
import { type HandlerHarness, handlerServices } from "../../../test/support/handler-services.ts";
import { isErrorKind } from "../../errors.ts";
import {
  ContainerState,
  ContainerStatusRequestSchema,
  CreateContainerRequestSchema,
  RemoveContainerRequestSchema,
  RunPodSandboxRequestSchema,
  StartContainerRequestSchema,
  StopContainerRequestSchema,
  StopPodSandboxRequestSchema,
} from "../../gen/runtime/v1/api_pb.js";
import { LABEL_SANDBOX_ID } from "../../store/labels.ts";
import { runtimeServiceHandlers } from "./runtime-service.ts";

let h: HandlerHarness;
let rpc: ReturnType<typeof runtimeServiceHandlers>;
let pod: string;
const UNKNOWN = "e".repeat(64);

beforeEach(async () => {
  h = await handlerServices();
  h.engine.addImage(["busybox:latest"], { User: "" });
  rpc = runtimeServiceHandlers(h.services);
  ({ podSandboxId: pod = "" } = await rpc.runPodSandbox(
    create(RunPodSandboxRequestSchema, { config: podConfig("web") }),
    h.ctx,
  ));
});
afterEach(() => h.close());

const createIn = (sandboxId: string, name = "app", image = "busybox:latest") =>
  rpc.createContainer(
    create(CreateContainerRequestSchema, {
      podSandboxId: sandboxId,
      config: containerConfig(name, image),
      sandboxConfig: podConfig("web"),
    }),
    h.ctx,
  );
const start = (containerId: string) =>
  rpc.startContainer(create(StartContainerRequestSchema, { containerId }), h.ctx);
const stop = (containerId: string) =>
  rpc.stopContainer(create(StopContainerRequestSchema, { containerId, timeout: 10n }), h.ctx);
const remove = (containerId: string) =>
  rpc.removeContainer(create(RemoveContainerRequestSchema, { containerId }), h.ctx);
const status = (containerId: string, verbose = false) =>
  rpc.containerStatus(create(ContainerStatusRequestSchema, { containerId, verbose }), h.ctx);
const kind = (expected: Parameters<typeof isErrorKind>[1], pattern?: RegExp) => (err: unknown) =>
  isErrorKind(err, expected) && (!pattern || pattern.test(String(err)));

async function created(name = "app"): Promise<string> {
  const { containerId = "" } = await createIn(pod, name);
  return containerId;
}

describe("CreateContainer", () => {
  test("creates a labelled container in the sandbox and records it at once", async () => {
    const id = await created();
    const container = h.engine.containers.get(id);
    assert.equal(container?.Name, "/k8s_app_web_default_uid-web_0");
    assert.equal(container?.Config.Labels?.[LABEL_SANDBOX_ID], pod);
    const record = h.services.store.requireContainer(id);
    assert.equal(record.sandboxId, pod);
    assert.equal(record.process.status, "created");
    assert.deepEqual(
      h.services.store.containersOf(pod).map((c) => c.id),
      [id],
    );
  });

  test("NOT_FOUND for an unknown sandbox or an absent image; nothing created", async () => {
    await assert.rejects(createIn(UNKNOWN), kind("NotFound", /pod sandbox/));
    await assert.rejects(createIn(pod, "app", "nginx:1"), kind("NotFound", /pull it first/));
    assert.equal(h.engine.count("createContainer"), 1, "only the pause container");
  });

  test("INVALID_ARGUMENT without a sandbox id or metadata", async () => {
    await assert.rejects(createIn(""), kind("InvalidArgument"));
    await assert.rejects(
      rpc.createContainer(create(CreateContainerRequestSchema, { podSandboxId: pod }), h.ctx),
      kind("InvalidArgument", /metadata\.name/),
    );
  });

  test("FAILED_PRECONDITION in a stopped sandbox", async () => {
    await rpc.stopPodSandbox(create(StopPodSandboxRequestSchema, { podSandboxId: pod }), h.ctx);
    await assert.rejects(createIn(pod), kind("FailedPrecondition", /not running/));
  });

  test("ALREADY_EXISTS when the name is taken by a started container (same name and attempt)", async () => {
    await start(await created());
    await assert.rejects(createIn(pod), kind("AlreadyExists", /is in use/));
    assert.equal(h.services.store.size.containers, 1);
  });

  test("a retry whose first answer was lost replaces that attempt's never-started container", async () => {
    const first = await created();
    const { containerId: second = "" } = await createIn(pod);
    assert.notEqual(second, first);
    assert.equal(h.engine.containers.has(first), false, "the leftover is removed");
    assert.deepEqual(
      h.services.store.containersOf(pod).map((c) => c.id),
      [second],
    );
  });

  test("the first read after creation fails: the container is removed again", async () => {
    h.engine.failNext("findContainer", engineError(500, "inspect container: engine hiccup"));
    await assert.rejects(createIn(pod), /engine hiccup/);
    assert.equal(h.engine.containers.size, 1, "only the pause container is left");
    assert.equal(h.services.store.size.containers, 0);
  });
});

describe("StartContainer", () => {
  test("starts a created container after opening its log", async () => {
    const id = await created();
    await start(id);
    assert.equal(h.engine.containers.get(id)?.State.Status, "running");
    assert.deepEqual(h.logs.started, [id]);
    assert.deepEqual(h.logs.nudged, [id], "the log writer told the container started");
    assert.equal(h.services.store.requireContainer(id).process.status, "running");
  });

  test("a retry on a running container succeeds without asking the engine again", async () => {
    const id = await created();
    await start(id);
    await start(id);
    assert.equal(h.engine.count("startContainer", id), 1);
  });

  test("NOT_FOUND for an unknown container, also when the engine lost it", async () => {
    await assert.rejects(start(UNKNOWN), kind("NotFound"));
    const id = await created();
    h.engine.containers.delete(id);
    await assert.rejects(start(id), kind("NotFound"));
  });

  test("an exited container is refused (the kubelet creates a new one)", async () => {
    const id = await created();
    await start(id);
    h.engine.setExited(id, 0);
    await assert.rejects(start(id), kind("FailedPrecondition", /CONTAINER_EXITED/));
    assert.equal(h.engine.count("startContainer", id), 1);
  });

  test("the engine's start failure is passed on and reported EXITED ContainerCannotRun", async () => {
    const id = await created();
    // A pause process that exists, so the failure is the container's own.
    const pause = h.engine.containers.get(pod);
    if (pause) pause.State.Pid = process.pid;
    h.engine.failNextStart(id, 'exec: "sleep": executable file not found in $PATH');
    await assert.rejects(start(id), kind("Internal", /executable file not found/));
    const { status: answer } = await status(id);
    assert.equal(answer?.state, ContainerState.CONTAINER_EXITED);
    assert.equal(answer?.reason, "ContainerCannotRun");
    assert.match(answer?.message ?? "", /executable file not found/);
    assert.equal(answer?.exitCode, 128);
  });

  test("the log file cannot be opened: the start fails before the engine runs anything", async () => {
    const id = await created();
    h.logs.failNextStart(new Error("EACCES: permission denied"));
    await assert.rejects(start(id), /EACCES/);
    assert.equal(h.engine.count("startContainer", id), 0);
    const { status: answer } = await status(id);
    assert.equal(answer?.state, ContainerState.CONTAINER_EXITED);
    assert.equal(answer?.reason, "ContainerCannotRun");
    assert.match(answer?.message ?? "", /cannot open the log file.*EACCES/);
  });

  test("FAILED_PRECONDITION when the sandbox is not running", async () => {
    const id = await created();
    h.engine.setExited(pod, 0);
    await h.services.sync.refresh(pod);
    await assert.rejects(start(id), kind("FailedPrecondition", /pod sandbox/));
  });
});

describe("StopContainer", () => {
  test("stops a running container; again, and for unknown ids, succeeds", async () => {
    const id = await created();
    await start(id);
    await stop(id);
    assert.equal(h.services.store.requireContainer(id).process.status, "exited");
    await stop(id);
    assert.deepEqual(await stop(UNKNOWN), {});
    assert.equal(h.engine.count("stopContainer", UNKNOWN), 0);
  });

  test("a container the engine lost stops without error and leaves the store", async () => {
    const id = await created();
    h.engine.containers.delete(id);
    await stop(id);
    assert.equal(h.services.store.container(id), undefined);
  });

  test("other engine failures are passed on", async () => {
    const id = await created();
    h.engine.failNext("stopContainer", engineError(500, "stop container: device busy"), id);
    await assert.rejects(stop(id), kind("Internal", /device busy/));
  });
});

describe("RemoveContainer", () => {
  test("removes container, record, log writer and start failure; twice succeeds", async () => {
    const id = await created();
    h.logs.failNextStart(new Error("EACCES"));
    await assert.rejects(start(id));
    assert.ok(h.services.startFailures.get(id));
    await remove(id);
    assert.equal(h.engine.containers.has(id), false);
    assert.equal(h.services.store.container(id), undefined);
    assert.deepEqual(h.services.store.containersOf(pod), []);
    assert.deepEqual(h.logs.stopped, [id]);
    assert.equal(h.services.startFailures.get(id), undefined);
    await remove(id);
    assert.deepEqual(await remove(UNKNOWN), {});
  });

  test("a container the engine lost is forgotten without error", async () => {
    const id = await created();
    h.engine.containers.delete(id);
    await remove(id);
    assert.equal(h.services.store.container(id), undefined);
  });
});

describe("ContainerStatus", () => {
  test("NOT_FOUND for an unknown id (the kubelet tolerates only that code)", async () => {
    await assert.rejects(status(UNKNOWN), kind("NotFound", /not found/));
    await assert.rejects(status(""), kind("InvalidArgument"));
  });

  test("created, then running, then exited with the exit code", async () => {
    const id = await created();
    assert.equal((await status(id)).status?.state, ContainerState.CONTAINER_CREATED);
    await start(id);
    const running = (await status(id)).status;
    assert.equal(running?.state, ContainerState.CONTAINER_RUNNING);
    assert.equal(running?.image?.image, "busybox:latest");
    h.engine.setExited(id, 3);
    await h.services.sync.refresh(id);
    const exited = (await status(id)).status;
    assert.equal(exited?.state, ContainerState.CONTAINER_EXITED);
    assert.equal(exited?.exitCode, 3);
    assert.equal(exited?.reason, "Error");
  });

  test("a unique id prefix finds the container; verbose carries the info JSON", async () => {
    const id = await created();
    const answer = await status(id.slice(0, 12), true);
    assert.equal(answer.status?.id, id);
    const info = JSON.parse(answer.info?.info ?? "{}") as { sandboxId?: string };
    assert.equal(info.sandboxId, pod);
  });
});
