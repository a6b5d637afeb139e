import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { pino } from "pino";
import { networkState } from "../../test/support/store-records.ts";
import { SandboxCheckpoints, verify } from "./sandbox-checkpoint.ts";

const log = pino({ level: "silent" });
const ID = "a".repeat(64);
let root: string;
const dir = () => join(root, "sandboxes");
const fresh = () => new SandboxCheckpoints(root, log);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-checkpoint-"));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("SandboxCheckpoints", () => {
  test("write then read back, also by a new instance (from disk); no temp file left", async () => {
    const state = networkState({ ips: ["10.88.0.3", "fd00::3"] });
    await fresh().write(ID, state);
    assert.deepEqual(await fresh().read(ID), state);
    assert.deepEqual(await readdir(dir()), [`${ID}.json`]);
    const file = JSON.parse(await readFile(join(dir(), `${ID}.json`), "utf8")) as {
      version: number;
      checksum: string;
    };
    assert.equal(file.version, 1);
    assert.match(file.checksum, /^sha256:[0-9a-f]{64}$/);
  });

  test("an absent checkpoint reads as undefined; ids() lists only checkpoint files", async () => {
    const checkpoints = fresh();
    assert.equal(await checkpoints.read(ID), undefined);
    assert.deepEqual(await checkpoints.ids(), [], "no directory yet");
    await checkpoints.write(ID, networkState());
    await writeFile(join(dir(), "notes.txt"), "x");
    await writeFile(join(dir(), `${"b".repeat(64)}.json.corrupt-1`), "x");
    assert.deepEqual(await checkpoints.ids(), [ID]);
  });

  test("a changed byte fails the checksum: set aside as .corrupt-<time>, read as absent", async () => {
    await fresh().write(ID, networkState({ ips: ["10.88.0.3"] }));
    const path = join(dir(), `${ID}.json`);
    await writeFile(path, (await readFile(path, "utf8")).replace("10.88.0.3", "10.88.0.4"));
    assert.equal(await fresh().read(ID), undefined);
    const names = await readdir(dir());
    assert.equal(names.length, 1);
    assert.match(names[0] ?? "", new RegExp(`^${ID}\\.json\\.corrupt-\\d+$`));
    assert.deepEqual(await fresh().ids(), []);
  });

  test("a file that is not JSON is set aside the same way", async () => {
    await fresh().write(ID, networkState());
    await writeFile(join(dir(), `${ID}.json`), "{ torn");
    assert.equal(await fresh().read(ID), undefined);
    assert.match((await readdir(dir()))[0] ?? "", /\.corrupt-/);
  });

  test("remove deletes file and cached value; removing twice is fine", async () => {
    const checkpoints = fresh();
    await checkpoints.write(ID, networkState());
    await checkpoints.remove(ID);
    await checkpoints.remove(ID);
    assert.equal(await checkpoints.read(ID), undefined);
    assert.deepEqual(await readdir(dir()), []);
  });

  test("a path that is not a sandbox id is refused (no writes outside the directory)", async () => {
    await assert.rejects(fresh().write("../../etc/passwd", networkState()), /not a sandbox id/);
    await assert.rejects(fresh().read("ABC"), /not a sandbox id/);
  });
});

describe("verify", () => {
  test("names why a checkpoint cannot be trusted", () => {
    assert.equal(verify("nope"), "not JSON");
    assert.equal(verify(JSON.stringify({ version: 2, data: {} })), "unknown version 2");
    assert.equal(verify(JSON.stringify({ version: 1 })), "no data");
    assert.equal(
      verify(JSON.stringify({ version: 1, checksum: "sha256:00", data: networkState() })),
      "checksum mismatch",
    );
  });
});
