import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { withTmpfs } from "../../test/support/tmpfs.ts";
import { ensureSpaceIn } from "./disk-space.ts";

describe("ensureSpaceIn", () => {
  test("a directory with space passes; a missing one is judged by its parent, not made", async () => {
    const root = await mkdtemp(join(tmpdir(), "berth-space-test-"));
    try {
      await ensureSpaceIn(join(root, "a", "b"), "a test");
      assert.equal(existsSync(join(root, "a")), false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("a full file system fails with ENOSPC naming the directory", async (t) => {
    await withTmpfs(t, "size=64k", async (mount, fill) => {
      await ensureSpaceIn(mount, "a checkpoint");
      await fill();
      await assert.rejects(
        ensureSpaceIn(join(mount), "a checkpoint"),
        (err: NodeJS.ErrnoException) => {
          assert.equal(err.code, "ENOSPC");
          assert.match(
            err.message,
            new RegExp(`for a checkpoint in ${mount} \\(no free blocks\\)`),
          );
          return true;
        },
      );
    });
  });
});
