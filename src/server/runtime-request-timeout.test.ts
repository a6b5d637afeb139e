import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Client, credentials, Metadata, Server, ServerCredentials, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { ImageService, PullImageRequestSchema, RuntimeService } from "../gen/runtime/v1/api_pb.js";
import type { CallContext } from "./call-context.ts";
import { grpcImplementation, grpcServiceDefinition } from "./grpc-service.ts";

const BOUND_MS = 300;
const HANDLER_MS = 800;

/** Every handler answers after HANDLER_MS unless its call's signal aborts first. */
const slowHandlers = new Proxy({} as Record<string, (...args: never[]) => Promise<unknown>>, {
  get: () => async (_request: unknown, context: CallContext) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, HANDLER_MS);
      context.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(context.signal.reason);
      });
    });
    return {};
  },
});

describe("--runtime-request-timeout", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-rrt-"));
  const address = `unix://${join(dir, "s.sock")}`;
  const server = new Server();
  let client: Client;
  before(async () => {
    const log = pino({ level: "silent" });
    for (const service of [RuntimeService, ImageService]) {
      server.addService(
        grpcServiceDefinition(service),
        grpcImplementation(service, slowHandlers, log, { runtimeRequestTimeoutMs: BOUND_MS }),
      );
    }
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    client = new Client(address, credentials.createInsecure());
  });
  after(() => {
    client.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  function call(path: string, body: Uint8Array, deadlineMs?: number) {
    const started = Date.now();
    return new Promise<{ code: number; ms: number }>((resolve) =>
      client.makeUnaryRequest(
        path,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        Buffer.from(body),
        new Metadata(),
        deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs },
        (err) => resolve({ code: err ? (err.code ?? -1) : status.OK, ms: Date.now() - started }),
      ),
    );
  }

  test("bounds a call whose client set no deadline", async () => {
    const { code, ms } = await call("/runtime.v1.RuntimeService/Version", new Uint8Array());
    assert.equal(code, status.DEADLINE_EXCEEDED);
    assert.ok(ms >= BOUND_MS - 50 && ms < HANDLER_MS, `${ms} ms`);
  });

  test("the client's own deadline replaces the bound", async () => {
    const { code } = await call("/runtime.v1.RuntimeService/Version", new Uint8Array(), 5000);
    assert.equal(code, status.OK);
  });

  test("PullImage is not bounded (its progress deadline is)", async () => {
    const body = toBinary(
      PullImageRequestSchema,
      create(PullImageRequestSchema, { image: { image: "busybox" } }),
    );
    const { code } = await call("/runtime.v1.ImageService/PullImage", body);
    assert.equal(code, status.OK);
  });
});
