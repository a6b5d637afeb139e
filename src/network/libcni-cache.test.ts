import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  formatLibcniCacheEntry,
  type LibcniCacheEntry,
  libcniCachePath,
  listLibcniCacheEntries,
  parseLibcniCacheEntry,
  removeLibcniCacheEntries,
  toBerthCacheEntry,
  writeLibcniCacheEntry,
} from "./libcni-cache.ts";

const ID = "b".repeat(64);
const entry: LibcniCacheEntry = {
  containerId: ID,
  networkName: "podnet",
  ifName: "eth0",
  config: JSON.stringify({ cniVersion: "1.0.0", name: "podnet", plugins: [{ type: "bridge" }] }),
  cniArgs: [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", "default"],
  ],
  capabilityArgs: { portMappings: [] },
  result: { cniVersion: "1.0.0", ips: [{ address: "10.1.0.2/24" }] },
};

describe("libcni's cache", () => {
  test("the file Go's json.Marshal writes: config as base64", () => {
    const file = JSON.parse(formatLibcniCacheEntry(entry));
    assert.deepEqual(Object.keys(file), [
      "kind",
      "containerId",
      "config",
      "ifName",
      "networkName",
      "cniArgs",
      "capabilityArgs",
      "result",
    ]);
    assert.equal(file.kind, "cniCacheV1");
    assert.equal(Buffer.from(file.config, "base64").toString(), entry.config);
    assert.deepEqual(parseLibcniCacheEntry(formatLibcniCacheEntry(entry)), entry);
  });

  test("omitted fields are empty", () => {
    const bare = { ...entry, cniArgs: [], capabilityArgs: {}, result: undefined };
    assert.deepEqual(parseLibcniCacheEntry(formatLibcniCacheEntry(bare)), bare);
  });

  const good = JSON.parse(formatLibcniCacheEntry(entry));
  const bad: Array<[string, unknown, RegExp]> = [
    ["another kind", { ...good, kind: "berthCniCacheV1" }, /kind is not cniCacheV1/],
    ["no container id", { ...good, containerId: "" }, /no "containerId"/],
    ["config not base64 JSON", { ...good, config: "bm90IGpzb24=" }, /not base64 of JSON/],
    [
      "config a list",
      { ...good, config: Buffer.from("[]").toString("base64") },
      /not a JSON object/,
    ],
    ["cniArgs not pairs", { ...good, cniArgs: [["a"]] }, /cniArgs/],
    ["capabilityArgs a list", { ...good, capabilityArgs: [] }, /capabilityArgs/],
    ["result a string", { ...good, result: "x" }, /result/],
  ];
  for (const [name, value, want] of bad) {
    test(`refuses ${name}`, () => {
      assert.match(parseLibcniCacheEntry(JSON.stringify(value)) as string, want);
    });
  }
  test("refuses what is not JSON", () => assert.equal(parseLibcniCacheEntry("{"), "not JSON"));

  test("becomes berth's entry for the DEL, in the pinned namespace", () => {
    const berth = toBerthCacheEntry(entry, "/c/results/x", "/var/lib/berth/netns/x");
    assert.equal(berth.kind, "berthCniCacheV1");
    assert.equal(berth.network, "podnet");
    assert.equal(berth.cniVersion, "1.0.0");
    assert.equal(berth.netnsPath, "/var/lib/berth/netns/x");
    assert.deepEqual(berth.config, { file: "/c/results/x", raw: JSON.parse(entry.config) });
    assert.deepEqual(berth.cniArgs, entry.cniArgs);
    assert.equal(berth.state, "added");
    assert.deepEqual(berth.result, entry.result);
  });

  test("the pod's interfaces name the pinned namespace (bridge's CHECK compares it)", () => {
    const result = {
      cniVersion: "1.0.0",
      interfaces: [{ name: "br0" }, { name: "eth0", sandbox: "/proc/42/ns/net" }],
    };
    const berth = toBerthCacheEntry({ ...entry, result }, "/f", "/pin/x");
    assert.deepEqual(berth.result?.interfaces, [
      { name: "br0" },
      { name: "eth0", sandbox: "/pin/x" },
    ]);
    // Without a namespace (the pod had stopped) the result stays as cached.
    assert.deepEqual(toBerthCacheEntry({ ...entry, result }, "/f", "").result, result);
  });

  describe("files of one container", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "berth-libcni-"));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    test("listed by container id, unusable ones reported, removed", async () => {
      const path = await writeLibcniCacheEntry(dir, entry);
      assert.equal(path, libcniCachePath(dir, "podnet", ID, "eth0"));
      await writeLibcniCacheEntry(dir, { ...entry, networkName: "cni-loopback", ifName: "lo" });
      await writeFile(join(dir, "results", `broken-${ID}-eth1`), "{");
      const other = "c".repeat(64);
      await writeLibcniCacheEntry(dir, { ...entry, containerId: other });
      const found = await listLibcniCacheEntries(dir, ID);
      assert.deepEqual(
        found.map((f) => [
          f.path.split("/").pop(),
          typeof f.entry === "string" ? f.entry : f.entry.ifName,
        ]),
        [
          [`broken-${ID}-eth1`, "not JSON"],
          [`cni-loopback-${ID}-lo`, "lo"],
          [`podnet-${ID}-eth0`, "eth0"],
        ],
      );
      await removeLibcniCacheEntries(dir, ID);
      assert.deepEqual(await readdir(join(dir, "results")), [`podnet-${other}-eth0`]);
      assert.deepEqual(await listLibcniCacheEntries(join(dir, "absent"), ID), []);
    });
  });
});
