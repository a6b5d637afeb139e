import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { VersionRequestSchema, VersionResponseSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { type RawCallResult, RawGrpcConnection } from "../support/raw-h2-client.ts";

/**
 * Every generation of the kubelet's CRI client reaches berth, whatever it sends as the HTTP/2
 * `:authority` of a unix socket call: the path itself (grpc-go 1.45 to 1.54: kubelets 1.24 to
 * 1.28, crictl 1.26), the path percent-encoded (grpc-go 1.55 to 1.63: kubelets 1.29, 1.30),
 * or "localhost" (grpc-go 1.64 and later: kubelets 1.31 on).
 */

const VERSION_PATH = "/runtime.v1.RuntimeService/Version";
const PERCENT_ENCODED_PATH = (path: string) => path.replaceAll("/", "%2F");
let berth: BerthProcess;

before(async () => {
  berth = await startBerth();
});

after(async () => {
  await berth.stop();
});

function versionRequest(): Uint8Array {
  return toBinary(VersionRequestSchema, { $typeName: "runtime.v1.VersionRequest", version: "v1" });
}

function assertAnswered(result: RawCallResult, what: string): void {
  assert.equal(result.resetCode, undefined, `${what}: the stream is not reset`);
  assert.equal(result.goAwayCode, undefined, `${what}: the connection is not closed`);
  const header = (name: string) => result.headers.find((field) => field.name === name)?.value;
  assert.equal(header(":status"), "200", `${what}: HTTP 200`);
  assert.equal(header("grpc-status"), "0", `${what}: gRPC OK`);
  const [message] = result.messages;
  assert.ok(message, `${what}: a response message`);
  assert.equal(fromBinary(VersionResponseSchema, message).runtimeName, "docker");
}

describe(":authority of every kubelet generation", () => {
  test("the socket path itself (grpc-go 1.45-1.54): three calls on one connection", async () => {
    const connection = await RawGrpcConnection.open(berth.socket);
    try {
      // The later calls refer to HPACK table entries the first one added.
      for (let i = 0; i < 3; i++) {
        assertAnswered(
          await connection.call(berth.socket, VERSION_PATH, versionRequest()),
          `call ${i + 1}`,
        );
      }
    } finally {
      connection.close();
    }
  });

  test("the percent-encoded socket path (grpc-go 1.55-1.63)", async () => {
    const connection = await RawGrpcConnection.open(berth.socket);
    try {
      for (let i = 0; i < 2; i++) {
        assertAnswered(
          await connection.call(PERCENT_ENCODED_PATH(berth.socket), VERSION_PATH, versionRequest()),
          `call ${i + 1}`,
        );
      }
    } finally {
      connection.close();
    }
  });

  test('"localhost" (grpc-go 1.64 on)', async () => {
    const connection = await RawGrpcConnection.open(berth.socket);
    try {
      assertAnswered(
        await connection.call("localhost", VERSION_PATH, versionRequest()),
        "localhost",
      );
    } finally {
      connection.close();
    }
  });

  test("every other header is still validated: an uppercase header name is refused", async () => {
    const connection = await RawGrpcConnection.open(berth.socket);
    try {
      const result = await connection.call(berth.socket, VERSION_PATH, versionRequest(), [
        ["X-Upper", "refused by HTTP/2"],
      ]);
      assert.ok(
        result.resetCode !== undefined || result.goAwayCode !== undefined,
        "the server refuses the request",
      );
    } finally {
      connection.close();
    }
  });
});
