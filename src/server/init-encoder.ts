import {
  create,
  type DescField,
  type DescMessage,
  type MessageInitShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * Protobuf's binary encoding of a message init object (the plain shape the handlers answer),
 * without first building the message with create(): for the stats answers, hundreds of small
 * nested messages every few seconds, create() and toBinary's reflection were most of the
 * encoding's cost. The bytes decode to exactly what create(schema, init) holds (the unit test
 * checks every message of the CRI this way); field order and implicit-presence defaults follow
 * toBinary's. Messages with oneofs go through create + toBinary, since their init shape differs.
 */
export function encodeInit<S extends DescMessage>(
  schema: S,
  init: MessageInitShape<S>,
): Uint8Array {
  const writer = new BinaryWriter();
  writeMessage(writer, schema, init as Record<string, unknown>);
  return writer.finish();
}

type Plan = ReadonlyArray<DescField>;
const plans = new WeakMap<DescMessage, Plan | null>();

/** The fields in number order, as toBinary writes them; null when the schema needs create(). */
function planOf(schema: DescMessage): Plan | null {
  let plan = plans.get(schema);
  if (plan === undefined) {
    plan = schema.oneofs.length > 0 ? null : [...schema.fields].sort((a, b) => a.number - b.number);
    plans.set(schema, plan);
  }
  return plan;
}

function writeMessage(writer: BinaryWriter, schema: DescMessage, init: Record<string, unknown>) {
  const plan = planOf(schema);
  if (plan === null) {
    writer.raw(toBinary(schema, create(schema, init as never)));
    return;
  }
  for (const field of plan) {
    const value = init[field.localName];
    if (value === undefined || value === null) continue;
    writeField(writer, field, value);
  }
}

function writeField(writer: BinaryWriter, field: DescField, value: unknown) {
  switch (field.fieldKind) {
    case "scalar":
      if (field.presence === IMPLICIT && isDefault(field.scalar, value)) return;
      writeScalar(writer, field.number, field.scalar, value);
      return;
    case "enum":
      if (field.presence === IMPLICIT && value === 0) return;
      writer.tag(field.number, WireType.Varint).int32(value as number);
      return;
    case "message":
      writer.tag(field.number, WireType.LengthDelimited).fork();
      writeMessage(writer, field.message, value as Record<string, unknown>);
      writer.join();
      return;
    case "list":
      writeList(writer, field, value as unknown[]);
      return;
    case "map":
      for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
        writer.tag(field.number, WireType.LengthDelimited).fork();
        writeScalar(writer, 1, field.mapKey, mapKeyValue(field.mapKey, key));
        if (field.mapKind === "message") {
          writer.tag(2, WireType.LengthDelimited).fork();
          writeMessage(writer, field.message, entry as Record<string, unknown>);
          writer.join();
        } else if (field.mapKind === "enum") {
          writer.tag(2, WireType.Varint).int32(entry as number);
        } else {
          writeScalar(writer, 2, field.scalar, entry);
        }
        writer.join();
      }
      return;
  }
}

// FeatureSet_FieldPresence.IMPLICIT: proto3 scalars without `optional`.
const IMPLICIT = 2;

function writeList(
  writer: BinaryWriter,
  field: DescField & { fieldKind: "list" },
  list: unknown[],
) {
  if (list.length === 0) return;
  if (field.listKind === "message") {
    for (const item of list) {
      writer.tag(field.number, WireType.LengthDelimited).fork();
      writeMessage(writer, field.message, item as Record<string, unknown>);
      writer.join();
    }
    return;
  }
  const scalar = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
  if (field.packed && scalar !== ScalarType.STRING && scalar !== ScalarType.BYTES) {
    writer.tag(field.number, WireType.LengthDelimited).fork();
    for (const item of list) writeScalarValue(writer, scalar, item);
    writer.join();
    return;
  }
  for (const item of list) writeScalar(writer, field.number, scalar, item);
}

function isDefault(scalar: ScalarType, value: unknown): boolean {
  switch (scalar) {
    case ScalarType.STRING:
      return value === "";
    case ScalarType.BYTES:
      return (value as Uint8Array).length === 0;
    case ScalarType.BOOL:
      return value === false;
    default:
      // Numbers, and 64-bit integers as bigint (or number, or string, which init shapes allow).
      return value === 0 || value === 0n || value === "0";
  }
}

function mapKeyValue(scalar: ScalarType, key: string): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return key;
    case ScalarType.BOOL:
      return key === "true";
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return BigInt(key);
    default:
      return Number(key);
  }
}

function writeScalar(writer: BinaryWriter, number: number, scalar: ScalarType, value: unknown) {
  writer.tag(number, wireTypeOf(scalar));
  writeScalarValue(writer, scalar, value);
}

function wireTypeOf(scalar: ScalarType): WireType {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

function writeScalarValue(writer: BinaryWriter, scalar: ScalarType, value: unknown) {
  const v = value as never;
  switch (scalar) {
    case ScalarType.STRING:
      writer.string(v);
      return;
    case ScalarType.BYTES:
      writer.bytes(v);
      return;
    case ScalarType.BOOL:
      writer.bool(v);
      return;
    case ScalarType.DOUBLE:
      writer.double(v);
      return;
    case ScalarType.FLOAT:
      writer.float(v);
      return;
    case ScalarType.INT32:
      writer.int32(v);
      return;
    case ScalarType.UINT32:
      writer.uint32(v);
      return;
    case ScalarType.SINT32:
      writer.sint32(v);
      return;
    case ScalarType.FIXED32:
      writer.fixed32(v);
      return;
    case ScalarType.SFIXED32:
      writer.sfixed32(v);
      return;
    case ScalarType.INT64:
      writer.int64(v);
      return;
    case ScalarType.UINT64:
      writer.uint64(v);
      return;
    case ScalarType.SINT64:
      writer.sint64(v);
      return;
    case ScalarType.FIXED64:
      writer.fixed64(v);
      return;
    case ScalarType.SFIXED64:
      writer.sfixed64(v);
      return;
  }
}
