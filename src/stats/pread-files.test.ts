import assert from "node:assert/strict";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PreadFiles } from "./pread-files.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-pread-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("reads through one kept handle, seeing each new content", async () => {
  const files = new PreadFiles();
  const path = join(dir, "value");
  await writeFile(path, "1\n");
  assert.equal(await files.read("a", path), "1\n");
  await writeFile(path, "22\n");
  assert.equal(await files.read("a", path), "22\n");
  assert.equal(files.size, 1);
  await files.release("a");
  assert.equal(files.size, 0);
});

test("a file larger than the first buffer is read whole", async () => {
  const files = new PreadFiles();
  const path = join(dir, "big");
  const content = "x".repeat(100_000);
  await writeFile(path, content);
  assert.equal(await files.read("a", path), content);
  assert.equal(await files.read("a", path), content);
  await files.releaseAll();
});

test("a failed read drops the handle; the next read opens the path again", async () => {
  const files = new PreadFiles();
  const path = join(dir, "comes-and-goes");
  await assert.rejects(files.read("a", path), { code: "ENOENT" });
  assert.equal(files.size, 0);
  await writeFile(path, "back\n");
  assert.equal(await files.read("a", path), "back\n");
  await files.releaseAll();
});

test("readOptional remembers a missing file for its owner until released", async () => {
  const files = new PreadFiles();
  const path = join(dir, "optional");
  assert.equal(await files.readOptional("a", path), undefined);
  await writeFile(path, "now here\n");
  assert.equal(await files.readOptional("a", path), undefined, "remembered as missing");
  assert.equal(await files.readOptional("b", path), "now here\n", "another owner looks");
  await files.release("a");
  assert.equal(await files.readOptional("a", path), "now here\n");
  await unlink(path);
  await files.releaseAll();
});

test("owners are released independently", async () => {
  const files = new PreadFiles();
  const path = join(dir, "shared");
  await writeFile(path, "s\n");
  await files.read("a", path);
  await files.read("b", path);
  assert.deepEqual([...files.owners()].sort(), ["a", "b"]);
  await files.release("a");
  assert.deepEqual([...files.owners()], ["b"]);
  assert.equal(await files.read("b", path), "s\n");
  await files.releaseAll();
  assert.equal(files.size, 0);
});
