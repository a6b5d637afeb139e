import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { containerConfig, podConfig } from "../../../test/support/cri-requests.ts";
import { type HandlerHarness, handlerServices } from "../../../test/support/handler-services.ts";
import {
  CreateContainerRequestSchema,
  ListContainersRequestSchema,
  ListPodSandboxRequestSchema,
  RunPodSandboxRequestSchema,
} from "../../gen/runtime/v1/api_pb.js";
import { preserializedBytes } from "../../server/preserialized.ts";
import { runtimeServiceHandlers } from "./runtime-service.ts";

let h: HandlerHarness;
let rpc: ReturnType<typeof runtimeServiceHandlers>;

beforeEach(async () => {
  h = await handlerServices();
  h.engine.addImage(["busybox:latest"]);
  rpc = runtimeServiceHandlers(h.services);
});
afterEach(() => h.close());

test("a per-pod (filtered) list between two relists does not make the next relist encode again", async () => {
  const ids: string[] = [];
  for (const name of ["a", "b"]) {
    const { podSandboxId = "" } = await rpc.runPodSandbox(
      create(RunPodSandboxRequestSchema, { config: podConfig(name) }),
      h.ctx,
    );
    await rpc.createContainer(
      create(CreateContainerRequestSchema, {
        podSandboxId,
        config: containerConfig(`c-${name}`, "busybox:latest"),
        sandboxConfig: podConfig(name),
      }),
      h.ctx,
    );
    ids.push(podSandboxId);
  }
  const sandboxes = async (filter?: object) =>
    preserializedBytes(
      await rpc.listPodSandbox(create(ListPodSandboxRequestSchema, { filter }), h.ctx),
    );
  const containers = async (filter?: object) =>
    preserializedBytes(
      await rpc.listContainers(create(ListContainersRequestSchema, { filter }), h.ctx),
    );
  const firstSandboxes = await sandboxes();
  const firstContainers = await containers({});
  assert.ok(firstSandboxes && firstContainers);
  const oneSandbox = await sandboxes({ id: ids[0] });
  const oneContainer = await containers({ podSandboxId: ids[0] });
  assert.ok(oneSandbox && oneContainer && oneSandbox.length < firstSandboxes.length);
  assert.equal(await sandboxes(), firstSandboxes, "the relist's previous bytes, by identity");
  assert.equal(await containers({}), firstContainers, "an empty filter is a relist too");
  assert.ok(oneContainer.length < firstContainers.length);
});
