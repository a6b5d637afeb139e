import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { withTmpfs } from "../../test/support/tmpfs.ts";
import { writeFileAtomic } from "./atomic-file.ts";

describe("writeFileAtomic", () => {
  let root: string;
  let umask: number;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-atomic-test-"));
    // The process umask, measured without the deprecated argument-less process.umask().
    const probe = join(root, "umask-probe");
    await writeFile(probe, "", { mode: 0o777 });
    umask = ~(await stat(probe)).mode & 0o777;
    await rm(probe);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

  const contents: Array<{ name: string; data: string | Uint8Array; want: Buffer }> = [
    {
      name: "a string",
      data: '{"podCidr":"10.88.0.0/16"}\n',
      want: Buffer.from('{"podCidr":"10.88.0.0/16"}\n'),
    },
    { name: "UTF-8 text", data: "grüße 🐳", want: Buffer.from("grüße 🐳", "utf8") },
    { name: "bytes", data: new Uint8Array([0, 1, 254, 255]), want: Buffer.from([0, 1, 254, 255]) },
    { name: "an empty string", data: "", want: Buffer.alloc(0) },
  ];
  for (const { name, data, want } of contents) {
    test(`writes ${name} and leaves no temp file`, async () => {
      const dir = await mkdtemp(join(root, "content-"));
      const path = join(dir, "file");
      await writeFileAtomic(path, data);
      assert.deepEqual(await readFile(path), want);
      assert.deepEqual(await readdir(dir), ["file"]);
    });
  }

  test("the default mode is 0600", async () => {
    const path = join(await mkdtemp(join(root, "mode-")), "file");
    await writeFileAtomic(path, "x");
    assert.equal(await modeOf(path), 0o600 & ~umask);
  });

  test("an explicit mode is applied (under the umask)", async () => {
    const path = join(await mkdtemp(join(root, "mode-")), "file");
    await writeFileAtomic(path, "x", 0o640);
    assert.equal(await modeOf(path), 0o640 & ~umask);
  });

  test("overwrites an existing file, taking the new mode, leaving no temp file", async () => {
    const dir = await mkdtemp(join(root, "overwrite-"));
    const path = join(dir, "file");
    await writeFile(path, "old content that is longer than the new one", { mode: 0o644 });
    await writeFileAtomic(path, "new");
    assert.equal(await readFile(path, "utf8"), "new");
    assert.equal(await modeOf(path), 0o600 & ~umask);
    assert.deepEqual(await readdir(dir), ["file"]);
  });

  test("creates missing parent directories", async () => {
    const base = await mkdtemp(join(root, "parents-"));
    const path = join(base, "a", "b", "file");
    await writeFileAtomic(path, "deep");
    assert.equal(await readFile(path, "utf8"), "deep");
    assert.equal(await modeOf(join(base, "a", "b")), 0o700 & ~umask);
  });

  test("concurrent writes leave one complete version and no temp files", async () => {
    const dir = await mkdtemp(join(root, "concurrent-"));
    const path = join(dir, "file");
    const versions = Array.from({ length: 10 }, (_, i) => `version ${i} `.repeat(1000));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    assert.ok(versions.includes(await readFile(path, "utf8")));
    assert.deepEqual(await readdir(dir), ["file"]);
  });

  test("a failed write removes its temp file and rejects", async () => {
    const dir = await mkdtemp(join(root, "fail-"));
    // The target is a non-empty directory: rename over it fails after the temp file exists.
    const path = join(dir, "target");
    await writeFileAtomic(join(path, "inside"), "x");
    await assert.rejects(writeFileAtomic(path, "data"));
    assert.deepEqual(await readdir(dir), ["target"]);
  });

  test("on a full file system a failed write leaves the old file, or none, and no temp file", async (t) => {
    await withTmpfs(t, "size=64k", async (mount, fill, free) => {
      const old = join(mount, "sandboxes", "old.json");
      await writeFileAtomic(old, '{"version":1}\n');
      await fill();
      const big = "x".repeat(16 * 1024);
      for (const path of [old, join(mount, "sandboxes", "new.json")]) {
        await assert.rejects(writeFileAtomic(path, big), (err: Error) => {
          assert.match(err.message, new RegExp(`^cannot write ${path}: ENOSPC`));
          assert.equal((err.cause as NodeJS.ErrnoException).code, "ENOSPC");
          return true;
        });
      }
      assert.equal(await readFile(old, "utf8"), '{"version":1}\n', "the old content, whole");
      assert.deepEqual(await readdir(join(mount, "sandboxes")), ["old.json"], "no temp, no new");
      await free();
      await writeFileAtomic(old, big);
      assert.equal(await readFile(old, "utf8"), big, "writes again once space returns");
    });
  });
});
