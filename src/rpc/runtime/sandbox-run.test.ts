import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { podConfig } from "../../../test/support/cri-requests.ts";
import { engineError } from "../../../test/support/fake-engine.ts";
import { type HandlerHarness, handlerServices } from "../../../test/support/handler-services.ts";
import { isErrorKind } from "../../errors.ts";
import {
  PodSandboxConfigSchema,
  PodSandboxState,
  RunPodSandboxRequestSchema,
} from "../../gen/runtime/v1/api_pb.js";
import { sandboxState } from "../../runtime/sandbox-convert.ts";
import { SandboxCheckpoints } from "../../store/sandbox-checkpoint.ts";
import { runtimeServiceHandlers } from "./runtime-service.ts";

let h: HandlerHarness;
let rpc: ReturnType<typeof runtimeServiceHandlers>;

beforeEach(async () => {
  h = await handlerServices();
  rpc = runtimeServiceHandlers(h.services);
});
afterEach(() => h.close());

const run = (name: string, extra: { runtimeHandler?: string; attempt?: number } = {}) =>
  rpc.runPodSandbox(
    create(RunPodSandboxRequestSchema, {
      config: podConfig(name, { attempt: extra.attempt }),
      runtimeHandler: extra.runtimeHandler ?? "",
    }),
    h.ctx,
  );

/** What is on disk, read past the checkpoints' cache. */
const onDisk = (id: string) =>
  new SandboxCheckpoints(h.rootDir, pino({ level: "silent" })).read(id);
const checkpointFile = (id: string) => join(h.rootDir, "sandboxes", `${id}.json`);

describe("RunPodSandbox", () => {
  test("a new sandbox: checkpoint written, record READY, network attached once", async () => {
    const { podSandboxId: id } = await run("web");
    assert.match(id ?? "", /^[0-9a-f]{64}$/);
    const sandboxId = id as string;
    const saved = await onDisk(sandboxId);
    assert.ok(saved, "checkpoint on disk");
    assert.equal(saved.ready, true);
    assert.equal(saved.attached, true);
    assert.equal(saved.cniNetwork, "fake-net");
    assert.deepEqual(saved.ips, ["10.88.0.2"]);
    assert.equal(saved.podName, "web");
    const record = h.services.store.sandbox(sandboxId);
    assert.ok(record);
    assert.equal(sandboxState(record), PodSandboxState.SANDBOX_READY);
    assert.deepEqual(record.network, saved);
    assert.equal(h.network.attached.length, 1);
    assert.equal(h.network.attached[0]?.sandboxId, sandboxId);
    assert.equal(h.network.attached[0]?.netnsPath, h.netns.pathOf(sandboxId));
    assert.equal(h.engine.containers.get(sandboxId)?.State.Status, "running");
    assert.equal(h.engine.containers.get(sandboxId)?.Name, "/k8s_POD_web_default_uid-web_0");
  });

  test("host network: READY without CNI, no netns pinned", async () => {
    const { podSandboxId } = await rpc.runPodSandbox(
      create(RunPodSandboxRequestSchema, { config: podConfig("host", { hostNetwork: true }) }),
      h.ctx,
    );
    const record = h.services.store.requireSandbox(podSandboxId ?? "");
    assert.equal(sandboxState(record), PodSandboxState.SANDBOX_READY);
    assert.equal(record.network?.hostNetwork, true);
    assert.equal(h.network.attached.length, 0);
    assert.equal(h.netns.pinned.size, 0);
  });

  test("CNI attach fails: pause container, checkpoint and record rolled back, detach tried", async () => {
    h.network.failNextAttach(new Error("bridge: no IP addresses left"));
    await assert.rejects(run("web"), /no IP addresses left/);
    assert.equal(h.engine.count("createContainer"), 1);
    assert.equal(h.engine.containers.size, 0, "pause container removed");
    assert.equal(h.services.store.size.sandboxes, 0, "record gone");
    const attachedId = h.network.attached[0]?.sandboxId ?? "";
    assert.equal(existsSync(checkpointFile(attachedId)), false, "checkpoint gone");
    assert.deepEqual(await h.checkpoints.ids(), []);
    assert.deepEqual(h.network.detachedIds(), [attachedId], "teardown after a half-done ADD");
    assert.ok(h.netns.unpinned.includes(attachedId), "netns pin released");
  });

  test("pause container does not stay running: rolled back before any network", async () => {
    h.engine.exitOnStart.add("k8s_POD_web_default_uid-web_0");
    await assert.rejects(
      run("web"),
      (err) =>
        isErrorKind(err, "Unavailable") &&
        /stopped while its sandbox was set up: it exited right after its start/.test(String(err)),
    );
    assert.equal(h.engine.containers.size, 0);
    assert.equal(h.services.store.size.sandboxes, 0);
    assert.deepEqual(await h.checkpoints.ids(), []);
    assert.equal(h.network.attached.length, 0);
  });

  test("start fails in the engine: the error is passed on, the container removed", async () => {
    h.engine.failNext("startContainer", engineError(500, "start container: OCI runtime error"));
    await assert.rejects(run("web"), (err) => {
      assert.ok(isErrorKind(err, "Internal"), String(err));
      assert.match(String(err), /OCI runtime error/);
      return true;
    });
    assert.equal(h.engine.containers.size, 0);
    assert.equal(h.services.store.size.sandboxes, 0);
  });

  test("a retry after success answers the same id without a second create", async () => {
    const first = await run("web");
    const second = await run("web");
    assert.equal(second.podSandboxId, first.podSandboxId);
    assert.equal(h.engine.count("createContainer"), 1);
    assert.equal(h.network.attached.length, 1);
  });

  test("concurrent identical calls make one sandbox", async () => {
    const [a, b] = await Promise.all([run("web"), run("web")]);
    assert.equal(a.podSandboxId, b.podSandboxId);
    assert.equal(h.engine.count("createContainer"), 1);
  });

  test("a NOTREADY sandbox of the same name is replaced by a fresh one", async () => {
    const { podSandboxId: old = "" } = await run("web");
    h.engine.setExited(old, 2);
    await h.services.sync.refresh(old);
    assert.equal(
      sandboxState(h.services.store.requireSandbox(old)),
      PodSandboxState.SANDBOX_NOTREADY,
    );
    const { podSandboxId: fresh = "" } = await run("web");
    assert.notEqual(fresh, old);
    assert.equal(h.engine.count("createContainer"), 2);
    assert.equal(h.engine.containers.has(old), false, "old pause container removed");
    assert.equal(h.services.store.sandbox(old), undefined);
    assert.equal(existsSync(checkpointFile(old)), false);
    assert.deepEqual(h.network.detachedIds(), [old], "old network released");
    assert.equal(
      sandboxState(h.services.store.requireSandbox(fresh)),
      PodSandboxState.SANDBOX_READY,
    );
  });

  test("another attempt of a READY pod is a new sandbox beside it", async () => {
    const first = await run("web", { attempt: 0 });
    const second = await run("web", { attempt: 1 });
    assert.notEqual(first.podSandboxId, second.podSandboxId);
    assert.equal(h.services.store.size.sandboxes, 2);
  });

  test("INVALID_ARGUMENT without metadata, or with an empty uid", async () => {
    await assert.rejects(
      rpc.runPodSandbox(create(RunPodSandboxRequestSchema, {}), h.ctx),
      (err) => isErrorKind(err, "InvalidArgument") && /metadata is required/.test(String(err)),
    );
    await assert.rejects(
      rpc.runPodSandbox(
        create(RunPodSandboxRequestSchema, { config: create(PodSandboxConfigSchema, {}) }),
        h.ctx,
      ),
      (err) => isErrorKind(err, "InvalidArgument"),
    );
    const config = podConfig("web");
    if (config.metadata) config.metadata.uid = "";
    await assert.rejects(
      rpc.runPodSandbox(create(RunPodSandboxRequestSchema, { config }), h.ctx),
      (err) => isErrorKind(err, "InvalidArgument") && /name, namespace and uid/.test(String(err)),
    );
    assert.equal(h.engine.count("createContainer"), 0);
  });

  test("an unknown runtime handler is refused; a known one reaches the engine", async () => {
    await assert.rejects(
      run("web", { runtimeHandler: "kata" }),
      (err) => isErrorKind(err, "InvalidArgument") && /"kata" is unknown/.test(String(err)),
    );
    assert.equal(h.engine.count("createContainer"), 0);
    const { podSandboxId = "" } = await run("web", { runtimeHandler: "runc" });
    assert.equal(h.engine.containers.get(podSandboxId)?.HostConfig.Runtime, "runc");
    assert.equal(h.services.store.requireSandbox(podSandboxId).runtimeHandler, "runc");
  });
});

describe("RunPodSandbox: the pause image", () => {
  test("absent: pulled once, then the sandbox runs", async () => {
    await h.close();
    h = await handlerServices({ pauseImage: false });
    rpc = runtimeServiceHandlers(h.services);
    h.engine.registry.set("registry.k8s.io/pause:3.10", {
      Id: `sha256:${"9".repeat(64)}`,
      RepoDigests: [],
      Created: "2026-01-01T00:00:00Z",
      Size: 1,
      Config: {},
    });
    const { podSandboxId = "" } = await run("web");
    assert.equal(h.engine.count("pullImage"), 1);
    assert.equal(h.engine.containers.get(podSandboxId)?.Image, `sha256:${"9".repeat(64)}`);
  });

  test("absent and not pullable: FAILED_PRECONDITION naming the image, nothing created", async () => {
    await h.close();
    h = await handlerServices({ pauseImage: false });
    rpc = runtimeServiceHandlers(h.services);
    await assert.rejects(
      run("web"),
      (err) => isErrorKind(err, "FailedPrecondition") && /pause:3\.10 is absent/.test(String(err)),
    );
    assert.equal(h.engine.count("createContainer"), 0);
  });
});
