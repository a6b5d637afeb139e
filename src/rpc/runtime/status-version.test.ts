import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { engineError } from "../../../test/support/fake-engine.ts";
import { type HandlerHarness, handlerServices } from "../../../test/support/handler-services.ts";
import { StatusRequestSchema, VersionRequestSchema } from "../../gen/runtime/v1/api_pb.js";
import { runtimeServiceHandlers } from "./runtime-service.ts";

let h: HandlerHarness;
let rpc: ReturnType<typeof runtimeServiceHandlers>;

beforeEach(async () => {
  h = await handlerServices();
  rpc = runtimeServiceHandlers(h.services);
});
afterEach(() => h.close());

const status = (verbose = false) => rpc.status(create(StatusRequestSchema, { verbose }), h.ctx);
const condition = (answer: Awaited<ReturnType<typeof status>>, type: string) =>
  answer.status?.conditions?.find((c) => c.type === type);

describe("Status", () => {
  test("engine and network ready: both conditions true, the engine's runtimes listed", async () => {
    const answer = await status(true);
    assert.equal(condition(answer, "RuntimeReady")?.status, true);
    assert.equal(condition(answer, "NetworkReady")?.status, true);
    assert.deepEqual(
      answer.runtimeHandlers?.map((handler) => handler.name),
      ["", "runc"],
    );
    const engine = JSON.parse(answer.info?.engine ?? "{}") as { version?: string };
    assert.equal(engine.version, "20.10.24");
    const config = JSON.parse(answer.info?.config ?? "{}") as { network?: string };
    assert.equal(config.network, "fake-net");
  });

  test("no CNI config: NetworkReady false with NetworkPluginNotReady", async () => {
    h.network.ready = false;
    const network = condition(await status(), "NetworkReady");
    assert.equal(network?.status, false);
    assert.equal(network?.reason, "NetworkPluginNotReady");
    assert.match(network?.message ?? "", /no CNI config/);
  });

  test("the engine not answering: RuntimeReady false with DockerDaemonNotReady", async () => {
    h.engine.failNext("ping", engineError(503, "ping: Docker Engine unreachable"));
    const runtime = condition(await status(), "RuntimeReady");
    assert.equal(runtime?.status, false);
    assert.equal(runtime?.reason, "DockerDaemonNotReady");
    assert.match(runtime?.message ?? "", /unreachable/);
  });
});

describe("Version", () => {
  test("the kubelet's API version, runtime docker, the engine's version", async () => {
    const answer = await rpc.version(create(VersionRequestSchema, {}), h.ctx);
    assert.deepEqual(answer, {
      version: "0.1.0",
      runtimeName: "docker",
      runtimeVersion: "20.10.24",
      runtimeApiVersion: "v1",
    });
  });

  test("an engine that is down fails Version with its error", async () => {
    h.engine.failNext("version", engineError(503, "engine version: unreachable"));
    await assert.rejects(rpc.version(create(VersionRequestSchema, {}), h.ctx), /unreachable/);
  });
});
