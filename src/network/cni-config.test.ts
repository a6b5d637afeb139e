import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findNetworkConfig, parseNetworkConfig } from "./cni-config.ts";

const bridgeConf = {
  cniVersion: "1.0.0",
  name: "berth-bridge",
  type: "bridge",
  bridge: "cni0",
  ipam: { type: "host-local", ranges: [[{ subnet: "10.88.0.0/16" }]] },
};

const conflist = {
  cniVersion: "1.0.0",
  name: "berth-list",
  disableCheck: true,
  plugins: [
    { type: "bridge", bridge: "cni0" },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

describe("parseNetworkConfig", () => {
  test("a .conf becomes a one-plugin list holding the whole config", () => {
    const network = parseNetworkConfig(JSON.stringify(bridgeConf), "/etc/cni/net.d/10-bridge.conf");
    assert.deepEqual(network, {
      cniVersion: "1.0.0",
      name: "berth-bridge",
      plugins: [bridgeConf],
      disableCheck: false,
      file: "/etc/cni/net.d/10-bridge.conf",
      raw: bridgeConf,
    });
  });

  test("a .conflist keeps its plugins in order and disableCheck", () => {
    const network = parseNetworkConfig(JSON.stringify(conflist), "/etc/cni/net.d/10-list.conflist");
    assert.equal(network.name, "berth-list");
    assert.equal(network.cniVersion, "1.0.0");
    assert.equal(network.disableCheck, true);
    assert.deepEqual(
      network.plugins.map((plugin) => plugin.type),
      ["bridge", "portmap"],
    );
    assert.deepEqual(network.plugins, conflist.plugins);
    assert.deepEqual(network.raw, conflist);
  });

  test("a .json holding a plugins list is read as a list", () => {
    const network = parseNetworkConfig(JSON.stringify(conflist), "/x/net.json");
    assert.deepEqual(
      network.plugins.map((plugin) => plugin.type),
      ["bridge", "portmap"],
    );
  });

  test("a .json holding a single plugin is read as a .conf", () => {
    const network = parseNetworkConfig(JSON.stringify(bridgeConf), "/x/net.json");
    assert.deepEqual(network.plugins, [bridgeConf]);
  });

  test("cniVersion defaults to 0.1.0", () => {
    const network = parseNetworkConfig('{"name":"n","type":"bridge"}', "/x/a.conf");
    assert.equal(network.cniVersion, "0.1.0");
  });

  const invalid: Array<{ name: string; text: string; file: string; message: RegExp }> = [
    { name: "not JSON", text: "{", file: "a.conf", message: /JSON/ },
    { name: "a JSON array", text: "[]", file: "a.conf", message: /not a JSON object/ },
    { name: "JSON null", text: "null", file: "a.conf", message: /not a JSON object/ },
    { name: "a JSON string", text: '"x"', file: "a.conf", message: /not a JSON object/ },
    { name: "missing name", text: '{"type":"bridge"}', file: "a.conf", message: /missing "name"/ },
    {
      name: "empty name",
      text: '{"name":"","type":"bridge"}',
      file: "a.conf",
      message: /missing "name"/,
    },
    {
      name: "non-string name",
      text: '{"name":3,"type":"bridge"}',
      file: "a.conf",
      message: /missing "name"/,
    },
    {
      name: "missing type in a .conf",
      text: '{"name":"n"}',
      file: "a.conf",
      message: /missing "type"/,
    },
    {
      name: "missing plugins in a .conflist",
      text: '{"name":"n"}',
      file: "a.conflist",
      message: /non-empty "plugins"/,
    },
    {
      name: "empty plugins",
      text: '{"name":"n","plugins":[]}',
      file: "a.conflist",
      message: /non-empty "plugins"/,
    },
    {
      name: "plugins not a list",
      text: '{"name":"n","plugins":{}}',
      file: "a.conflist",
      message: /non-empty "plugins"/,
    },
    {
      name: "a plugin without type",
      text: '{"name":"n","plugins":[{"type":"bridge"},{}]}',
      file: "a.conflist",
      message: /plugin 1 has no "type"/,
    },
    {
      name: "a null plugin",
      text: '{"name":"n","plugins":[null]}',
      file: "a.conflist",
      message: /plugin 0 has no "type"/,
    },
  ];
  for (const { name, text, file, message } of invalid) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseNetworkConfig(text, file), message);
    });
  }
});

describe("findNetworkConfig", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-cni-test-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function dirWith(name: string, files: Record<string, string>): Promise<string> {
    const dir = join(root, name);
    await mkdir(dir);
    for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
    return dir;
  }

  const conf = (name: string) => JSON.stringify({ ...bridgeConf, name });

  test("picks the first valid config in lexical order", async () => {
    const dir = await dirWith("lexical", {
      "20-second.conf": conf("second"),
      "10-first.conflist": JSON.stringify({ ...conflist, name: "first" }),
      "99-last.json": conf("last"),
    });
    const found = await findNetworkConfig(dir);
    assert.ok(found.ok);
    assert.equal(found.network.name, "first");
    assert.equal(found.network.file, join(dir, "10-first.conflist"));
  });

  test("ignores files without a CNI extension", async () => {
    const dir = await dirWith("extensions", {
      "00-readme.txt": "not a config",
      "01-backup.conf.bak": conf("backup"),
      "50-net.conf": conf("real"),
    });
    const found = await findNetworkConfig(dir);
    assert.ok(found.ok);
    assert.equal(found.network.name, "real");
  });

  test("skips invalid files for the next valid one", async () => {
    const dir = await dirWith("skip", {
      "00-broken.conf": "{",
      "05-noname.conflist": JSON.stringify({ plugins: [{ type: "bridge" }] }),
      "10-good.conf": conf("good"),
    });
    const found = await findNetworkConfig(dir);
    assert.ok(found.ok);
    assert.equal(found.network.name, "good");
  });

  test("names every invalid file in the reason when none is usable", async () => {
    const dir = await dirWith("all-bad", {
      "00-broken.conf": "{",
      "10-notype.conf": '{"name":"n"}',
    });
    const found = await findNetworkConfig(dir);
    assert.ok(!found.ok);
    assert.match(found.reason, /^no valid CNI network config in /);
    assert.ok(found.reason.includes(dir));
    assert.match(found.reason, /00-broken\.conf: /);
    assert.match(found.reason, /10-notype\.conf: missing "type"/);
  });

  test("an empty directory has its own reason", async () => {
    const dir = await dirWith("empty", { "notes.txt": "x" });
    const found = await findNetworkConfig(dir);
    assert.deepEqual(found, { ok: false, reason: `no CNI network config found in ${dir}` });
  });

  test("a missing directory has its own reason", async () => {
    const dir = join(root, "does-not-exist");
    const found = await findNetworkConfig(dir);
    assert.ok(!found.ok);
    assert.match(found.reason, /^cannot read CNI config directory /);
    assert.ok(found.reason.includes(dir));
    assert.match(found.reason, /ENOENT/);
  });
});
