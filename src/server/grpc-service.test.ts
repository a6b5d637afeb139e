import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { pino } from "pino";
import { type CriClient, criClient } from "../../test/support/cri-client.ts";
import { engineError } from "../../test/support/fake-engine.ts";
import { expectCode } from "../../test/support/grpc.ts";
import { BerthError, invalidArgument, notFound } from "../errors.ts";
import { RuntimeService, VersionRequestSchema } from "../gen/runtime/v1/api_pb.js";
import type { CallContext } from "./call-context.ts";
import { grpcImplementation, grpcServiceDefinition } from "./grpc-service.ts";
import { type ServiceHandlers, unimplemented } from "./service-handlers.ts";

/**
 * The wrapper every RPC goes through, over a real grpc-js server on a temporary unix
 * socket: failures mapped to status codes, cancellation and deadlines reaching the handler.
 */

type Handlers = ServiceHandlers<typeof RuntimeService>;
const log = pino({ level: "silent" });
let dir: string;
let server: Server;
let client: CriClient;
let raw: Client;
/** What the test's Version handler does; replaced per test. */
let versionHandler: Handlers["version"];
let seen: CallContext | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-grpc-"));
  const handlers = Object.fromEntries(
    RuntimeService.methods.map((method) => [
      method.localName,
      unimplemented("runtime.v1.RuntimeService", method.name),
    ]),
  ) as unknown as Handlers;
  handlers.version = (request, context) => versionHandler(request, context);
  handlers.listContainers = async (request) => ({
    containers: [{ id: request.filter?.id ?? "none" }],
  });
  handlers.streamContainers = async (_request, send) => {
    await send({ containers: [{ id: "one" }] });
    await send({ containers: [{ id: "two" }] });
    throw notFound("the stream's source vanished");
  };
  server = new Server();
  server.addService(
    grpcServiceDefinition(RuntimeService),
    grpcImplementation(RuntimeService, handlers, log),
  );
  const endpoint = `unix://${join(dir, "berth.sock")}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(endpoint, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  client = criClient(endpoint);
  const Constructor = makeGenericClientConstructor(grpcServiceDefinition(RuntimeService), "raw");
  raw = new Constructor(endpoint, credentials.createInsecure());
});
after(async () => {
  client.close();
  raw.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  seen = undefined;
  versionHandler = async (_request, context) => {
    seen = context;
    return { version: "0.1.0", runtimeName: "docker" };
  };
});

/** A raw Version call answering its grpc-js call object (to cancel) and the outcome. */
function rawVersion() {
  let settle: (outcome: ServiceError | null) => void = () => {};
  const outcome = new Promise<ServiceError | null>((resolve) => {
    settle = resolve;
  });
  const invoke = (raw as unknown as Record<string, (...args: unknown[]) => { cancel(): void }>)
    .Version;
  const call = invoke?.call(
    raw,
    create(VersionRequestSchema, {}),
    new Metadata(),
    (err: ServiceError | null) => settle(err),
  );
  return { call, outcome };
}

describe("grpcImplementation", () => {
  test("a handler's answer reaches the client; without a deadline none is seen", async () => {
    const { outcome } = rawVersion();
    assert.equal(await outcome, null);
    assert.equal(seen?.deadline, undefined);
    assert.equal(seen?.signal.aborted, false);
    const answer = await client.runtime.version({});
    assert.equal(answer.runtimeName, "docker");
    const context = seen as CallContext | undefined;
    assert.ok(context?.deadline instanceof Date, "the client's deadline is passed on");
    const list = await client.runtime.listContainers({ filter: { id: "abc" } });
    assert.deepEqual(
      list.containers.map((c) => c.id),
      ["abc"],
    );
  });

  test("berth's errors and the engine's map to their codes, details kept", async () => {
    const cases: Array<[Error, status, RegExp]> = [
      [invalidArgument("pod_sandbox_id is empty"), status.INVALID_ARGUMENT, /is empty/],
      [notFound('container "x" not found'), status.NOT_FOUND, /"x" not found/],
      [new BerthError("AlreadyExists", "name in use"), status.ALREADY_EXISTS, /name in use/],
      [engineError(404, "inspect container x: No such container"), status.NOT_FOUND, /No such/],
      [engineError(409, "kill: not running"), status.FAILED_PRECONDITION, /not running/],
      [engineError(503, "engine unreachable"), status.UNAVAILABLE, /unreachable/],
      [new TypeError("x is undefined"), status.INTERNAL, /^internal error: x is undefined$/],
    ];
    for (const [error, code, details] of cases) {
      versionHandler = async () => {
        throw error;
      };
      await expectCode(client.runtime.version({}), code, details);
    }
  });

  test("an RPC berth does not serve answers UNIMPLEMENTED naming it", async () => {
    await expectCode(
      client.runtime.checkpointContainer({}),
      status.UNIMPLEMENTED,
      /RuntimeService\/CheckpointContainer/,
    );
  });

  test("the deadline aborts the handler's signal with a TimeoutError: DEADLINE_EXCEEDED", async () => {
    let reason: unknown;
    versionHandler = (_request, context) =>
      new Promise((_resolve, reject) => {
        context.signal.addEventListener("abort", () => {
          reason = context.signal.reason;
          reject(context.signal.reason);
        });
      });
    await expectCode(client.runtime.version({}, { timeoutMs: 50 }), status.DEADLINE_EXCEEDED);
    await waitFor(() => reason !== undefined);
    assert.equal((reason as Error).name, "TimeoutError");
  });

  test("a client cancelling aborts the handler's signal with an AbortError", async () => {
    let reason: unknown;
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    versionHandler = (_request, context) =>
      new Promise((_resolve, reject) => {
        entered();
        context.signal.addEventListener("abort", () => {
          reason = context.signal.reason;
          reject(context.signal.reason);
        });
      });
    const { call, outcome } = rawVersion();
    await inHandler;
    call?.cancel();
    assert.equal((await outcome)?.code, status.CANCELLED);
    await waitFor(() => reason !== undefined);
    assert.equal((reason as Error).name, "AbortError");
  });

  // Bounded: the bug this catches left the client waiting for a status forever.
  test("a server stream delivers its messages, then the failure's code", {
    timeout: 5000,
  }, async () => {
    const received: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const message of client.runtime.streamContainers({})) {
          received.push(...message.containers.map((c) => c.id));
        }
      })(),
      (err: ServiceError) => err.code === status.NOT_FOUND && /vanished/.test(err.details),
    );
    assert.deepEqual(received, ["one", "two"]);
  });

  test("a service with a handler missing is refused at wiring time", () => {
    assert.throws(
      () => grpcImplementation(RuntimeService, {}, log),
      /no handler for runtime\.v1\.RuntimeService\/Version/,
    );
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), "condition never held");
}
