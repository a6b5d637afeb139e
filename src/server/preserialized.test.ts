import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ContainerSchema, ListContainersResponseSchema } from "../gen/runtime/v1/api_pb.js";
import {
  preserialized,
  preserializedBytes,
  repeatedField,
  reusedRepeatedField,
} from "./preserialized.ts";

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

test("reusedRepeatedField answers the same bytes for the same elements, new ones on change", () => {
  const answer = reusedRepeatedField(1);
  const a = new Uint8Array([8, 1]);
  const b = new Uint8Array([8, 2]);
  const first = answer([a, b]);
  assert.deepEqual(first, repeatedField(1, [a, b]));
  assert.equal(answer([a, b]), first, "unchanged elements: the previous answer itself");
  const equalButNew = new Uint8Array([8, 2]);
  const changed = answer([a, equalButNew]);
  assert.notEqual(changed, first, "a replaced element (a changed record) is assembled again");
  assert.deepEqual(answer([b, a]), repeatedField(1, [b, a]), "order matters");
  assert.deepEqual(answer([a]), repeatedField(1, [a]), "so does the count");
  assert.deepEqual(answer([]), new Uint8Array(0));
});
