import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ContainerSchema, ListContainersResponseSchema } from "../gen/runtime/v1/api_pb.js";
import { preserialized, preserializedBytes, repeatedField } from "./preserialized.ts";

test("a repeated field assembled from encoded elements decodes as the full message", () => {
  const containers = Array.from({ length: 3 }, (_, i) =>
    create(ContainerSchema, {
      id: `${i}`.repeat(64),
      podSandboxId: "p",
      // A long value makes the length varint take two bytes.
      labels: { big: "x".repeat(200 * (i + 1)) },
    }),
  );
  const bytes = repeatedField(
    1,
    containers.map((container) => toBinary(ContainerSchema, container)),
  );
  const expected = toBinary(
    ListContainersResponseSchema,
    create(ListContainersResponseSchema, { containers }),
  );
  assert.deepEqual(bytes, expected);
  assert.deepEqual(fromBinary(ListContainersResponseSchema, bytes).containers, containers);
  assert.deepEqual(repeatedField(1, []), new Uint8Array(0));
});

test("preserialized answers carry their bytes; ordinary ones do not", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  assert.equal(preserializedBytes(preserialized(bytes)), bytes);
  assert.equal(preserializedBytes({ containers: [] }), undefined);
});
