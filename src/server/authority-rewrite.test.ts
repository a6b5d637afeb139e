import assert from "node:assert/strict";
import { describe, test } from "node:test";
import hpack, { type HpackHeader } from "hpack.js";
import {
  AuthorityRewriter,
  encodeAuthority,
  HeaderRewriteError,
  isValidAuthority,
} from "./authority-rewrite.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const SETTINGS = frame(0x4, 0, 0, Buffer.alloc(0));

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function framesOf(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const length = rest.readUIntBE(0, 3);
    frames.push({
      type: rest[3] ?? 0,
      flags: rest[4] ?? 0,
      streamId: rest.readUInt32BE(5),
      payload: rest.subarray(9, 9 + length),
    });
    rest = rest.subarray(9 + length);
  }
  return frames;
}

/** A client's encoder, as grpc-go's: incremental indexing, so later blocks refer back. */
function clientEncoder() {
  const encoder = hpack.compressor.create({ table: { maxSize: 4096 } });
  return (headers: Array<[string, string]>) => {
    encoder.write(headers.map(([name, value]) => ({ name, value })));
    return encoder.read() ?? Buffer.alloc(0);
  };
}

function grpcHeaders(authority: string): Array<[string, string]> {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/runtime.v1.RuntimeService/Version"],
    [":authority", authority],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ];
}

/** What the server's decoder reads from the rewritten stream, block by block. */
function serverView(output: Buffer): { blocks: HpackHeader[][]; frames: Frame[] } {
  const decoder = hpack.decompressor.create({ table: { maxSize: 4096 } });
  assert.deepEqual(output.subarray(0, PREFACE.length), PREFACE, "the preface goes first");
  const frames = framesOf(output.subarray(PREFACE.length));
  const blocks: HpackHeader[][] = [];
  let fragments: Buffer[] = [];
  for (const { type, flags, payload } of frames) {
    if (type !== 0x1 && type !== 0x9) continue;
    fragments.push(type === 0x1 && flags & 0x20 ? payload.subarray(5) : payload);
    if (flags & 0x4) {
      decoder.write(Buffer.concat(fragments));
      decoder.execute();
      const block: HpackHeader[] = [];
      for (let header = decoder.read(); header; header = decoder.read()) block.push(header);
      blocks.push(block);
      fragments = [];
    }
  }
  return { blocks, frames };
}

function run(rewriter: AuthorityRewriter, chunks: Buffer[]): Buffer {
  return Buffer.concat(chunks.flatMap((chunk) => rewriter.push(chunk)));
}

function authorityOf(block: HpackHeader[]): string | undefined {
  return block.find((header) => header.name === ":authority")?.value;
}

describe("isValidAuthority and encodeAuthority", () => {
  const cases: Array<{ authority: string; valid: boolean; encoded: string }> = [
    { authority: "localhost", valid: true, encoded: "localhost" },
    { authority: "127.0.0.1:10010", valid: true, encoded: "127.0.0.1:10010" },
    { authority: "[::1]:443", valid: true, encoded: "[::1]:443" },
    { authority: "%2Frun%2Fberth.sock", valid: true, encoded: "%2Frun%2Fberth.sock" },
    { authority: "/run/berth/berth.sock", valid: false, encoded: "%2Frun%2Fberth%2Fberth.sock" },
    { authority: "a b", valid: false, encoded: "a%20b" },
  ];
  for (const { authority, valid, encoded } of cases) {
    test(`${authority}: ${valid ? "valid" : `becomes ${encoded}`}`, () => {
      assert.equal(isValidAuthority(authority), valid);
      assert.equal(encodeAuthority(authority), encoded);
      assert.ok(isValidAuthority(encodeAuthority(authority)));
    });
  }
});

describe("AuthorityRewriter", () => {
  test("a valid authority: every byte passes unchanged, even fed one byte at a time", () => {
    const encode = clientEncoder();
    const input = Buffer.concat([
      PREFACE,
      SETTINGS,
      frame(0x1, 0x4, 1, encode(grpcHeaders("localhost"))),
      frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0])),
      frame(0x1, 0x4, 3, encode(grpcHeaders("/not/checked/after/the/first/block"))),
    ]);
    const rewriter = new AuthorityRewriter();
    const output = run(
      rewriter,
      [...input].map((byte) => Buffer.from([byte])),
    );
    assert.deepEqual(output, input);
    assert.equal(rewriter.mode, "passthrough");
  });

  test("a socket path: percent-encoded in every block, other headers as sent", () => {
    const encode = clientEncoder();
    const path = "/run/berth/berth.sock";
    const body = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]));
    const input = Buffer.concat([
      PREFACE,
      SETTINGS,
      frame(0x1, 0x4, 1, encode(grpcHeaders(path))),
      body,
      // The second block is mostly references to the client's dynamic table.
      frame(0x1, 0x4 | 0x1, 3, encode(grpcHeaders(path))),
    ]);
    const rewriter = new AuthorityRewriter();
    const { blocks, frames } = serverView(run(rewriter, [input]));
    assert.equal(rewriter.mode, "rewrite");
    assert.equal(blocks.length, 2);
    for (const block of blocks) {
      assert.equal(authorityOf(block), "%2Frun%2Fberth%2Fberth.sock");
      assert.deepEqual(
        block.map(({ name, value }) => [name, value]),
        grpcHeaders("%2Frun%2Fberth%2Fberth.sock"),
      );
    }
    assert.deepEqual(
      frames.map(({ type, flags, streamId }) => [type, flags, streamId]),
      [
        [0x4, 0, 0],
        [0x1, 0x4, 1],
        [0x0, 0x1, 1],
        [0x1, 0x5, 3],
      ],
      "frames keep their order, streams and END_STREAM",
    );
  });

  test("padding is dropped, priority kept, CONTINUATION frames joined", () => {
    const encode = clientEncoder();
    const block = encode(grpcHeaders("/run/berth.sock"));
    const priority = Buffer.from([0, 0, 0, 0, 15]);
    const padding = Buffer.alloc(7);
    const input = Buffer.concat([
      PREFACE,
      frame(
        0x1,
        0x8 | 0x20 | 0x1,
        1,
        Buffer.concat([Buffer.from([padding.length]), priority, block.subarray(0, 10), padding]),
      ),
      frame(0x9, 0x4, 1, block.subarray(10)),
    ]);
    const { blocks, frames } = serverView(run(new AuthorityRewriter(), [input]));
    assert.equal(authorityOf(blocks[0] ?? []), "%2Frun%2Fberth.sock");
    assert.equal(frames.length, 1);
    assert.equal(frames[0]?.flags, 0x20 | 0x4 | 0x1, "PRIORITY, END_HEADERS, END_STREAM");
    assert.deepEqual(frames[0]?.payload.subarray(0, 5), priority);
  });

  test("a rewritten block larger than one frame goes out as HEADERS and CONTINUATION", () => {
    const encode = clientEncoder();
    const big = "x".repeat(40_000);
    const input = Buffer.concat([
      PREFACE,
      frame(0x1, 0x4, 1, encode([...grpcHeaders("/run/berth.sock"), ["x-big", big]])),
    ]);
    const { blocks, frames } = serverView(run(new AuthorityRewriter(), [input]));
    assert.deepEqual(
      frames.map(({ type }) => type),
      [0x1, 0x9, 0x9],
    );
    assert.ok(frames.every(({ payload }) => payload.length <= 16_384));
    assert.equal(blocks[0]?.find((header) => header.name === "x-big")?.value, big);
  });

  test("a malformed header block is refused", () => {
    const input = Buffer.concat([PREFACE, frame(0x1, 0x4, 1, Buffer.from([0xff, 0xff, 0xff]))]);
    assert.throws(() => run(new AuthorityRewriter(), [input]), HeaderRewriteError);
  });
});
