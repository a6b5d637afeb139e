import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  create,
  type DescField,
  type DescMessage,
  equals,
  fromBinary,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { file_runtime_v1_api } from "../gen/runtime/v1/api_pb.js";
import { encodeInit } from "./init-encoder.ts";

/** Every message of the CRI, nested ones included. */
function allMessages(): DescMessage[] {
  const out: DescMessage[] = [];
  const visit = (message: DescMessage) => {
    out.push(message);
    for (const nested of message.nestedMessages) visit(nested);
  };
  for (const message of file_runtime_v1_api.messages) visit(message);
  return out;
}

/** A deterministic pseudo-random source, so a failure names the same values every run. */
function rng(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

function scalarValue(scalar: ScalarType, next: () => number, zero: boolean): unknown {
  const n = zero ? 0 : Math.floor(next() * 1000) + 1;
  switch (scalar) {
    case ScalarType.STRING:
      return zero ? "" : `s${n}-ü`;
    case ScalarType.BYTES:
      return zero ? new Uint8Array() : new Uint8Array([n & 0xff, 0, 7]);
    case ScalarType.BOOL:
      return !zero;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return zero ? 0 : n + 0.5;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return zero ? 0n : BigInt(next() < 0.3 ? -n : n) * 1_000_000_007n;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return zero ? 0n : BigInt(n) * 1_000_000_007n;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return next() < 0.3 ? -n : n;
    default:
      return n;
  }
}

/**
 * An init with every field set (or, with `zero`, scalars at their defaults, which must not be
 * written), nested messages down to `depth`.
 */
function initOf(schema: DescMessage, next: () => number, depth: number, zero = false) {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    const value = fieldValue(field, next, depth, zero);
    if (value !== undefined) init[field.localName] = value;
  }
  return init;
}

function fieldValue(field: DescField, next: () => number, depth: number, zero: boolean): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, next, zero);
    case "enum":
      return zero ? 0 : field.enum.values[field.enum.values.length - 1]?.number;
    case "message":
      return depth > 0 ? initOf(field.message, next, depth - 1, zero) : undefined;
    case "list":
      if (field.listKind === "message") {
        return depth > 0 ? [0, 1].map(() => initOf(field.message, next, depth - 1, zero)) : [];
      }
      if (field.listKind === "enum") return [0, field.enum.values.length - 1];
      return [0, 1, 2].map(() => scalarValue(field.scalar, next, false));
    case "map": {
      const map: Record<string, unknown> = {};
      for (const key of ["b", "a", "io.kubernetes.pod.name"]) {
        map[key] =
          field.mapKind === "message"
            ? depth > 0
              ? initOf(field.message, next, depth - 1, zero)
              : {}
            : field.mapKind === "enum"
              ? 1
              : scalarValue(field.scalar, next, false);
      }
      return map;
    }
  }
}

describe("encodeInit", () => {
  const messages = allMessages();

  it("covers the whole CRI", () => {
    assert.ok(messages.length > 150, `only ${messages.length} messages found`);
  });

  for (const [label, zero] of [
    ["every field set", false],
    ["scalars at their defaults", true],
  ] as const) {
    it(`writes what create + toBinary write, for every CRI message, ${label}`, () => {
      const next = rng(zero ? 7 : 42);
      for (const schema of messages) {
        const init = initOf(schema, next, 4, zero);
        const expected = create(schema, init as never);
        const bytes = encodeInit(schema, init as never);
        assert.deepEqual(bytes, toBinary(schema, expected), schema.typeName);
        assert.ok(equals(schema, fromBinary(schema, bytes), expected), schema.typeName);
      }
    });
  }

  it("takes messages already built by create as well as plain inits", () => {
    const schema = file_runtime_v1_api.messages.find(
      (m) => m.typeName === "runtime.v1.ContainerStats",
    );
    assert.ok(schema);
    const message = create(schema, initOf(schema, rng(3), 3) as never);
    assert.deepEqual(encodeInit(schema, message as never), toBinary(schema, message));
  });
});
