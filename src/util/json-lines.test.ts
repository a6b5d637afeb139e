import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jsonLines } from "./json-lines.ts";

async function* from(chunks: Array<Buffer | string>): AsyncGenerator<Buffer | string> {
  for (const chunk of chunks) yield chunk;
}

async function collect(chunks: Array<Buffer | string>): Promise<unknown[]> {
  const values: unknown[] = [];
  for await (const value of jsonLines(from(chunks))) values.push(value);
  return values;
}

/** Splits one byte string at the given byte offsets. */
function splitAt(text: string, offsets: number[]): Buffer[] {
  const bytes = Buffer.from(text, "utf8");
  const bounds = [0, ...offsets, bytes.length];
  return bounds.slice(1).map((end, i) => bytes.subarray(bounds[i], end));
}

describe("jsonLines", () => {
  const cases: Array<{ name: string; chunks: Array<Buffer | string>; want: unknown[] }> = [
    { name: "no chunks", chunks: [], want: [] },
    { name: "one line per chunk", chunks: ['{"a":1}\n', '{"b":2}\n'], want: [{ a: 1 }, { b: 2 }] },
    {
      name: "several lines in one chunk",
      chunks: ['{"a":1}\n{"b":2}\n{"c":3}\n'],
      want: [{ a: 1 }, { b: 2 }, { c: 3 }],
    },
    {
      name: "a line split mid-value",
      chunks: ['{"stat', 'us":"Pulling"', "}\n"],
      want: [{ status: "Pulling" }],
    },
    {
      name: "split right before the newline",
      chunks: ['{"a":1}', "\n", '{"b":2}'],
      want: [{ a: 1 }, { b: 2 }],
    },
    { name: "last line without newline", chunks: ['{"a":1}\n{"b":2}'], want: [{ a: 1 }, { b: 2 }] },
    {
      name: "blank lines and CRLF skipped",
      chunks: ['\n\r\n{"a":1}\r\n\n', '  \n{"b":2}\r\n'],
      want: [{ a: 1 }, { b: 2 }],
    },
    {
      name: "Buffer chunks",
      chunks: [Buffer.from('{"id":"abc"}\n'), Buffer.from('{"id":"def"}\n')],
      want: [{ id: "abc" }, { id: "def" }],
    },
    {
      name: "non-object JSON values",
      chunks: ['1\n"two"\n[3]\nnull\n'],
      want: [1, "two", [3], null],
    },
    {
      name: "whole UTF-8 characters in one Buffer",
      chunks: [Buffer.from('{"s":"héllo ✓ 🐳"}\n')],
      want: [{ s: "héllo ✓ 🐳" }],
    },
    {
      name: "one byte at a time, ASCII",
      chunks: splitAt(
        '{"a":1}\n{"b":2}\n',
        Array.from({ length: 15 }, (_, i) => i + 1),
      ),
      want: [{ a: 1 }, { b: 2 }],
    },
  ];
  for (const { name, chunks, want } of cases) {
    test(name, async () => {
      assert.deepEqual(await collect(chunks), want);
    });
  }

  test("a malformed line rejects with a SyntaxError after the good ones", async () => {
    const seen: unknown[] = [];
    await assert.rejects(async () => {
      for await (const value of jsonLines(from(['{"a":1}\n{oops}\n{"b":2}\n']))) seen.push(value);
    }, SyntaxError);
    assert.deepEqual(seen, [{ a: 1 }]);
  });

  const text = '{"s":"é✓🐳"}\n';
  // "é" is 2 bytes at offset 6, "✓" 3 bytes at 8, "🐳" 4 bytes at 11; 18 bytes in all.
  const multiByteSplits: Array<{ name: string; offsets: number[] }> = [
    { name: "inside a 2-byte character", offsets: [7] },
    { name: "inside a 3-byte character", offsets: [9] },
    { name: "inside a 4-byte character", offsets: [13] },
    {
      name: "at every byte",
      offsets: Array.from({ length: Buffer.byteLength(text) - 1 }, (_, i) => i + 1),
    },
  ];
  test("the multi-byte fixture has the byte layout the splits assume", () => {
    assert.equal(Buffer.byteLength(text), 18);
    assert.deepEqual(
      splitAt(text, [6, 8, 11, 15]).map((part) => part.toString("utf8")),
      ['{"s":"', "é", "✓", "🐳", '"}\n'],
    );
  });
  for (const { name, offsets } of multiByteSplits) {
    test(`a Buffer split ${name} decodes intact`, async () => {
      assert.deepEqual(await collect(splitAt(text, offsets)), [{ s: "é✓🐳" }]);
    });
  }
});
