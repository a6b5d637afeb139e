import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RuntimeSettings } from "./runtime-settings.ts";

describe("RuntimeSettings", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-settings-test-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const freshDir = () => mkdtemp(join(root, "state-"));

  const nothingStored: Array<{ name: string; flag: string | undefined }> = [
    { name: "the flag's CIDR", flag: "10.88.0.0/16" },
    { name: "undefined without a flag", flag: undefined },
  ];
  for (const { name, flag } of nothingStored) {
    test(`nothing stored → ${name}`, async () => {
      const settings = await RuntimeSettings.load(await freshDir(), flag);
      assert.equal(settings.podCidr, flag);
    });
  }

  test("after setPodCidr the stored CIDR wins over the flag, also after a reload", async () => {
    const dir = await freshDir();
    const settings = await RuntimeSettings.load(dir, "10.88.0.0/16");
    await settings.setPodCidr("10.244.1.0/24");
    assert.equal(settings.podCidr, "10.244.1.0/24");
    const reloaded = await RuntimeSettings.load(dir, "10.88.0.0/16");
    assert.equal(reloaded.podCidr, "10.244.1.0/24");
    const reloadedWithoutFlag = await RuntimeSettings.load(dir, undefined);
    assert.equal(reloadedWithoutFlag.podCidr, "10.244.1.0/24");
  });

  test("stores runtime-config.json as JSON in the root directory", async () => {
    const dir = await freshDir();
    const settings = await RuntimeSettings.load(dir, undefined);
    await settings.setPodCidr("fd00:10:244::/64");
    assert.deepEqual(JSON.parse(await readFile(join(dir, "runtime-config.json"), "utf8")), {
      podCidr: "fd00:10:244::/64",
    });
  });

  test("the last setPodCidr survives a reload", async () => {
    const dir = await freshDir();
    const settings = await RuntimeSettings.load(dir, undefined);
    await settings.setPodCidr("10.244.1.0/24");
    await settings.setPodCidr("10.244.2.0/24");
    assert.equal((await RuntimeSettings.load(dir, undefined)).podCidr, "10.244.2.0/24");
  });

  test("creates a missing root directory", async () => {
    const dir = join(await freshDir(), "nested", "root");
    const settings = await RuntimeSettings.load(dir, undefined);
    await settings.setPodCidr("10.244.3.0/24");
    assert.equal((await RuntimeSettings.load(dir, undefined)).podCidr, "10.244.3.0/24");
  });

  const unusable: Array<{ name: string; content: string }> = [
    { name: "corrupt JSON", content: "{not json" },
    { name: "an empty podCidr", content: '{"podCidr":""}' },
    { name: "a non-string podCidr", content: '{"podCidr":42}' },
    { name: "no podCidr", content: "{}" },
  ];
  for (const { name, content } of unusable) {
    test(`a stored file with ${name} falls back to the flag`, async () => {
      const dir = await freshDir();
      await writeFile(join(dir, "runtime-config.json"), content);
      assert.equal((await RuntimeSettings.load(dir, "10.88.0.0/16")).podCidr, "10.88.0.0/16");
    });
  }

  test("a CIDR the kubelet set equal to the flag's is still kept on disk", async () => {
    const dir = await freshDir();
    const settings = await RuntimeSettings.load(dir, "10.88.0.0/16");
    await settings.setPodCidr("10.88.0.0/16");
    assert.equal((await RuntimeSettings.load(dir, undefined)).podCidr, "10.88.0.0/16");
  });
});
