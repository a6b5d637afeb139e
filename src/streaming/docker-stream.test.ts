import assert from "node:assert/strict";
import { test } from "node:test";
import { DockerStreamDemuxer } from "./docker-stream.ts";

function frame(stream: number, text: string): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([head, Buffer.from(text)]);
}

test("demultiplexes Docker's stream format however the bytes are split", () => {
  const bytes = Buffer.concat([frame(1, "out1"), frame(2, "err"), frame(1, ""), frame(1, "out2")]);
  for (const size of [1, 3, 7, 8, 9, bytes.length]) {
    const demuxer = new DockerStreamDemuxer();
    const got = { 1: "", 2: "" } as Record<number, string>;
    for (let i = 0; i < bytes.length; i += size) {
      for (const f of demuxer.push(bytes.subarray(i, i + size))) got[f.stream] += f.data.toString();
    }
    assert.deepEqual(got, { 1: "out1out2", 2: "err" }, `chunks of ${size}`);
  }
});

test("hands out a large frame's payload as it arrives", () => {
  const demuxer = new DockerStreamDemuxer();
  const big = frame(1, "x".repeat(100_000));
  const first = demuxer.push(big.subarray(0, 1000));
  assert.equal(first[0]?.data.length, 992);
});
