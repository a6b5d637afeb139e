import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";

const BYTES = Symbol("berth.preserialized");

/**
 * An answer already in wire form. The List RPCs the kubelet polls every second assemble their
 * answers from per-record encodings cached while records do not change, instead of building and
 * encoding every message again on each call.
 */
export function preserialized<O extends DescMessage>(bytes: Uint8Array): MessageInitShape<O> {
  return { [BYTES]: bytes } as unknown as MessageInitShape<O>;
}

export function preserializedBytes(value: unknown): Uint8Array | undefined {
  if (value && typeof value === "object" && BYTES in value) {
    return (value as { [BYTES]: Uint8Array })[BYTES];
  }
  return undefined;
}

/**
 * A message made of one repeated message field: each element is the field's tag, the
 * element's length as a varint, and the element's own encoding.
 */
export function repeatedField(fieldNumber: number, elements: Uint8Array[]): Uint8Array {
  const tag = (fieldNumber << 3) | 2;
  let size = 0;
  for (const element of elements) size += 1 + varintSize(element.length) + element.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const element of elements) {
    out[offset++] = tag;
    let length = element.length;
    while (length > 0x7f) {
      out[offset++] = (length & 0x7f) | 0x80;
      length >>>= 7;
    }
    out[offset++] = length;
    out.set(element, offset);
    offset += element.length;
  }
  return out;
}

/**
 * repeatedField that answers its previous result when given the same elements (the same
 * encodings, by identity, in the same order): an unchanged relist allocates nothing new.
 */
export function reusedRepeatedField(fieldNumber: number): (elements: Uint8Array[]) => Uint8Array {
  let last: { elements: Uint8Array[]; bytes: Uint8Array } | undefined;
  return (elements) => {
    if (
      last &&
      last.elements.length === elements.length &&
      last.elements.every((element, i) => element === elements[i])
    ) {
      return last.bytes;
    }
    const bytes = repeatedField(fieldNumber, elements);
    last = { elements, bytes };
    return bytes;
  };
}

function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}
