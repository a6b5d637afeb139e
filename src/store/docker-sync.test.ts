import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import { eventStreamResyncs } from "../metrics/instruments.ts";
import { DockerSync } from "./docker-sync.ts";
import { SandboxCheckpoints } from "./sandbox-checkpoint.ts";
import { StateStore } from "./state-store.ts";

async function resyncs(): Promise<number> {
  return (await eventStreamResyncs.get()).values[0]?.value ?? 0;
}

test("a rebuild after the event stream ended counts as a resync; the first one does not", async () => {
  const root = mkdtempSync(join(tmpdir(), "berth-sync-"));
  const streams: PassThrough[] = [];
  let rebuilds = 0;
  let bothStreamsOpen: () => void = () => {};
  const reopened = new Promise<void>((resolve) => {
    bothStreamsOpen = resolve;
  });
  // Only what following the events touches: an event stream per call, an empty container list.
  const engine = {
    events: async () => {
      const stream = new PassThrough();
      streams.push(stream);
      if (streams.length === 2) bothStreamsOpen();
      return stream;
    },
    listContainers: async () => {
      rebuilds++;
      return [];
    },
  } as unknown as DockerEngine;
  const log = pino({ level: "silent" });
  const sync = new DockerSync(
    engine,
    new StateStore(),
    new SandboxCheckpoints(root, log),
    "t",
    log,
  );
  const before = await resyncs();
  try {
    sync.start();
    while (rebuilds < 1) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await resyncs(), before, "the start-up rebuild is no resync");
    streams[0]?.end(); // the engine ended the stream (a restart, say)
    await reopened;
    // Counted once that rebuild is done, which takes a few turns after its list call.
    const deadline = Date.now() + 5_000;
    while ((await resyncs()) === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(rebuilds, 2);
    assert.equal(await resyncs(), before + 1);
  } finally {
    const stopping = sync.stop();
    for (const stream of streams) stream.end();
    await stopping;
    rmSync(root, { recursive: true, force: true });
  }
});
