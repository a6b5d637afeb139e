import assert from "node:assert/strict";
import { link, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { UNSET_APPLIED } from "../../test/support/store-records.ts";
import { ContainerConfigSchema } from "../gen/runtime/v1/api_pb.js";
import type { ContainerRecord } from "../store/records.ts";
import { StateStore } from "../store/state-store.ts";
import { nowNs } from "./cgroup-reader.ts";
import { directoryUsage, mountSourceOf, WritableLayers } from "./writable-layer.ts";

const log = pino({ level: "silent" });

function container(id: string): ContainerRecord {
  return {
    id,
    name: id,
    sandboxId: "s",
    config: create(ContainerConfigSchema, {}),
    createdAt: 0n,
    imageId: "",
    userImage: "",
    logPath: "",
    process: {
      status: "running",
      pid: 1,
      exitCode: 0,
      oomKilled: false,
      error: "",
      startedAt: 0n,
      finishedAt: 0n,
    },
    applied: { ...UNSET_APPLIED },
  };
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-layer-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("directoryUsage", () => {
  test("counts blocks and inodes like du, hard links once", async () => {
    const dir = join(root, "upper");
    await mkdir(join(dir, "etc", "deep"), { recursive: true });
    await writeFile(join(dir, "etc", "a"), Buffer.alloc(100_000, 1));
    await writeFile(join(dir, "etc", "deep", "b"), "small");
    await link(join(dir, "etc", "a"), join(dir, "hardlink-to-a"));
    const usage = await directoryUsage(dir);
    // upper, etc, deep, a, b (the hard link is the same inode as a).
    assert.equal(usage.inodesUsed, 5n);
    // At least the 100 kB file's blocks once, and not twice.
    assert.ok(usage.usedBytes >= 100_000n, `${usage.usedBytes}`);
    assert.ok(usage.usedBytes < 200_000n + 5n * 8192n, `${usage.usedBytes}`);
  });

  test("an empty directory is one inode", async () => {
    const dir = join(root, "empty");
    await mkdir(dir);
    assert.equal((await directoryUsage(dir)).inodesUsed, 1n);
  });

  test("a missing directory rejects", async () => {
    await assert.rejects(directoryUsage(join(root, "missing")), { code: "ENOENT" });
  });
});

test("mountSourceOf: the longest mountpoint containing the path", () => {
  const mountinfo = `21 1 252:1 / / rw - ext4 /dev/vda1 rw
30 21 252:16 / /var/lib/docker rw - xfs /dev/vdb rw
31 21 0:40 / /var/lib/dockerish rw - tmpfs tmpfs rw
`;
  assert.equal(mountSourceOf("/var/lib/docker", mountinfo), "/dev/vdb");
  assert.equal(mountSourceOf("/var/lib/docker/overlay2/x/diff", mountinfo), "/dev/vdb");
  assert.equal(mountSourceOf("/var/lib", mountinfo), "/dev/vda1");
  assert.equal(mountSourceOf("/var/lib/dockerish", mountinfo), "tmpfs");
});

describe("WritableLayers", () => {
  test("measures a new container soon, then on the interval; forgets removed ones", async () => {
    const store = new StateStore();
    const upper = join(root, "c1-upper");
    await mkdir(upper);
    await writeFile(join(upper, "file"), "hello");
    const asked: string[] = [];
    const layers = new WritableLayers({
      store,
      log,
      upperDirOf: async (id) => {
        asked.push(id);
        return id === "c1" ? upper : undefined;
      },
      intervalMs: 100,
      firstDelayMs: 10,
    });
    layers.start();
    try {
      store.upsert({ kind: "container", record: container("c1") });
      store.upsert({ kind: "container", record: container("c2") });
      for (let i = 0; i < 100 && !layers.get("c1"); i++) await sleep(10);
      const first = layers.get("c1");
      assert.ok(first, "measured");
      assert.equal(first.inodesUsed, 2n);
      assert.equal(layers.get("c2"), undefined, "no upper directory: no usage");

      await writeFile(join(upper, "second"), "x");
      for (let i = 0; i < 100 && layers.get("c1")?.inodesUsed !== 3n; i++) await sleep(10);
      assert.equal(layers.get("c1")?.inodesUsed, 3n, "measured again on the interval");
      // The upper directory was asked once per container, not once per measurement.
      assert.equal(asked.filter((id) => id === "c1").length, 1);

      store.delete("c1");
      assert.equal(layers.get("c1"), undefined);
    } finally {
      await layers.stop();
    }
  });

  test("stop ends the loop promptly", async () => {
    const layers = new WritableLayers({
      store: new StateStore(),
      log,
      upperDirOf: async () => undefined,
      intervalMs: 60_000,
    });
    layers.start();
    const started = performance.now();
    await layers.stop();
    assert.ok(performance.now() - started < 1000);
  });
});

test("WritableLayers: nothing is walked until a usage is read, and the job pauses unread", async () => {
  const store = new StateStore();
  const upper = join(root, "unread-upper");
  await mkdir(upper);
  let asked = 0;
  const layers = new WritableLayers({
    store,
    log,
    upperDirOf: async () => {
      asked++;
      return upper;
    },
    intervalMs: 20,
    firstDelayMs: 0,
    idleAfterMs: 100,
  });
  layers.start();
  try {
    store.upsert({ kind: "container", record: container("c1") });
    await sleep(150);
    assert.equal(asked, 0, "no stats call yet: nothing inspected or walked");
    assert.equal(layers.get("c1"), undefined);
    for (let i = 0; i < 100 && !layers.get("c1"); i++) await sleep(10);
    assert.ok(layers.get("c1"), "a read resumes the job");
    await sleep(400);
    // Unread for longer than idleAfterMs: no walk since (on a 20 ms interval otherwise).
    const age = Number(nowNs() - (layers.get("c1")?.timestamp ?? 0n)) / 1e6;
    assert.ok(age > 200, `last measured ${age} ms ago`);
  } finally {
    await layers.stop();
  }
});
