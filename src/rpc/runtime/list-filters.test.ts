import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { containerConfig, podConfig } from "../../../test/support/cri-requests.ts";
import { type HandlerHarness, handlerServices } from "../../../test/support/handler-services.ts";
import {
  type ContainerFilterSchema,
  CreateContainerRequestSchema,
  ListContainersRequestSchema,
  ListContainersResponseSchema,
  ListPodSandboxRequestSchema,
  ListPodSandboxResponseSchema,
  type PodSandboxFilterSchema,
  RunPodSandboxRequestSchema,
  StreamContainersRequestSchema,
  StreamPodSandboxesRequestSchema,
} from "../../gen/runtime/v1/api_pb.js";
import { preserializedBytes } from "../../server/preserialized.ts";
import { runtimeServiceHandlers } from "./runtime-service.ts";

const UID = "io.kubernetes.pod.uid";

let h: HandlerHarness;
let rpc: ReturnType<typeof runtimeServiceHandlers>;
/** Sandbox id and container ids by pod name. */
const pods = new Map<string, { sandbox: string; containers: string[] }>();

/** A pod as the kubelet makes it: its uid is a label of the sandbox and of each container. */
async function kubeletPod(name: string, containers: number) {
  const config = podConfig(name);
  config.labels[UID] = `uid-${name}`;
  const { podSandboxId = "" } = await rpc.runPodSandbox(
    create(RunPodSandboxRequestSchema, { config }),
    h.ctx,
  );
  const ids: string[] = [];
  for (let i = 0; i < containers; i++) {
    const container = containerConfig(`c${i}`, "busybox:latest");
    container.labels[UID] = `uid-${name}`;
    const { containerId = "" } = await rpc.createContainer(
      create(CreateContainerRequestSchema, {
        podSandboxId,
        config: container,
        sandboxConfig: config,
      }),
      h.ctx,
    );
    ids.push(containerId);
  }
  pods.set(name, { sandbox: podSandboxId, containers: ids });
}

beforeEach(async () => {
  h = await handlerServices();
  h.engine.addImage(["busybox:latest"]);
  rpc = runtimeServiceHandlers(h.services);
  pods.clear();
  await kubeletPod("a", 2);
  await kubeletPod("b", 1);
  await kubeletPod("c", 0);
});
afterEach(() => h.close());

/** The ids a list answers (its answer is pre-encoded bytes, decoded here as the kubelet does). */
async function sandboxIds(filter: MessageInitShape<typeof PodSandboxFilterSchema>) {
  const answer = await rpc.listPodSandbox(create(ListPodSandboxRequestSchema, { filter }), h.ctx);
  const bytes = preserializedBytes(answer) ?? new Uint8Array();
  return fromBinary(ListPodSandboxResponseSchema, bytes)
    .items.map((sandbox) => sandbox.id)
    .sort();
}
async function containerIds(filter: MessageInitShape<typeof ContainerFilterSchema>) {
  const answer = await rpc.listContainers(create(ListContainersRequestSchema, { filter }), h.ctx);
  const bytes = preserializedBytes(answer) ?? new Uint8Array();
  return fromBinary(ListContainersResponseSchema, bytes)
    .containers.map((container) => container.id)
    .sort();
}
const pod = (name: string) => pods.get(name) ?? { sandbox: "", containers: [] };

test("a pod-uid selector lists exactly that pod's sandbox and containers", async () => {
  for (const name of ["a", "b", "c"]) {
    const selector = { labelSelector: { [UID]: `uid-${name}` } };
    assert.deepEqual(await sandboxIds(selector), [pod(name).sandbox], name);
    assert.deepEqual(await containerIds(selector), [...pod(name).containers].sort(), name);
  }
  const nobody = { labelSelector: { [UID]: "uid-nobody" } };
  assert.deepEqual(await sandboxIds(nobody), []);
  assert.deepEqual(await containerIds(nobody), []);
});

test("the rest of a filter still applies next to a pod-uid selector", async () => {
  const a = pod("a");
  assert.deepEqual(await sandboxIds({ labelSelector: { [UID]: "uid-a", app: "a" } }), [a.sandbox]);
  assert.deepEqual(await sandboxIds({ labelSelector: { [UID]: "uid-a", app: "b" } }), []);
  assert.deepEqual(
    await sandboxIds({ labelSelector: { [UID]: "uid-a" }, id: pod("b").sandbox }),
    [],
  );
  assert.deepEqual(await containerIds({ labelSelector: { [UID]: "uid-a", container: "c1" } }), [
    a.containers[1] ?? "",
  ]);
  assert.deepEqual(
    await containerIds({ labelSelector: { [UID]: "uid-a" }, podSandboxId: pod("b").sandbox }),
    [],
  );
});

test("a container filter by sandbox id, whole or a prefix, lists that sandbox's containers", async () => {
  const a = pod("a");
  const all = [...a.containers].sort();
  assert.deepEqual(await containerIds({ podSandboxId: a.sandbox }), all);
  assert.deepEqual(await containerIds({ podSandboxId: a.sandbox.slice(0, 12) }), all);
  assert.deepEqual(await containerIds({ podSandboxId: pod("c").sandbox }), []);
  assert.deepEqual(await containerIds({ podSandboxId: "f".repeat(64) }), []);
});

test("removed pods leave the pod-uid lists", async () => {
  const a = pod("a");
  for (const id of a.containers) await rpc.removeContainer({ containerId: id } as never, h.ctx);
  await rpc.stopPodSandbox({ podSandboxId: a.sandbox } as never, h.ctx);
  await rpc.removePodSandbox({ podSandboxId: a.sandbox } as never, h.ctx);
  const selector = { labelSelector: { [UID]: "uid-a" } };
  assert.deepEqual(await sandboxIds(selector), []);
  assert.deepEqual(await containerIds(selector), []);
  assert.deepEqual(await sandboxIds({ labelSelector: { [UID]: "uid-b" } }), [pod("b").sandbox]);
});

test("the streaming lists filter the same way", async () => {
  const a = pod("a");
  const streamed = { sandboxes: [] as string[], containers: [] as string[] };
  const filter = { labelSelector: { [UID]: "uid-a" } };
  await rpc.streamPodSandboxes(
    create(StreamPodSandboxesRequestSchema, { filter }),
    async (page) => {
      for (const sandbox of page.podSandboxes ?? []) streamed.sandboxes.push(sandbox.id ?? "");
    },
    h.ctx,
  );
  await rpc.streamContainers(
    create(StreamContainersRequestSchema, { filter }),
    async (page) => {
      for (const container of page.containers ?? []) streamed.containers.push(container.id ?? "");
    },
    h.ctx,
  );
  assert.deepEqual(streamed.sandboxes, [a.sandbox]);
  assert.deepEqual(streamed.containers.sort(), [...a.containers].sort());
});
