import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type CniCacheEntry,
  cacheFilePath,
  listCacheEntries,
  readCacheEntry,
  removeCacheEntry,
  writeCacheEntry,
} from "./cni-cache.ts";

function entry(overrides: Partial<CniCacheEntry> = {}): CniCacheEntry {
  return {
    kind: "berthCniCacheV1",
    network: "berth",
    containerId: "c1",
    ifName: "eth0",
    netnsPath: "/proc/42/ns/net",
    cniVersion: "1.0.0",
    config: {
      file: "/etc/cni/net.d/10-berth.conflist",
      raw: { cniVersion: "1.0.0", name: "berth", plugins: [{ type: "bridge" }] },
    },
    cniArgs: [
      ["IgnoreUnknown", "1"],
      ["K8S_POD_NAME", "p"],
    ],
    capabilityArgs: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }] },
    state: "added",
    result: { cniVersion: "1.0.0", ips: [{ address: "10.88.0.2/16" }] },
    ...overrides,
  };
}

describe("CNI result cache", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-cni-cache-test-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("one file per (network, container id, ifname), unambiguous with dashes", () => {
    assert.equal(
      cacheFilePath("/var/lib/berth/cni", "my-net", "abc-def", "eth0"),
      "/var/lib/berth/cni/results/my-net/abc-def/eth0.json",
    );
    assert.notEqual(
      cacheFilePath("/c", "a-b", "c", "eth0"),
      cacheFilePath("/c", "a", "b-c", "eth0"),
    );
  });

  test("round trip, private file", async () => {
    const dir = join(root, "roundtrip");
    const written = entry();
    await writeCacheEntry(dir, written);
    assert.deepEqual(await readCacheEntry(dir, "berth", "c1", "eth0"), written);
    const mode = (await stat(cacheFilePath(dir, "berth", "c1", "eth0"))).mode & 0o777;
    assert.equal(mode & 0o077, 0, "not readable by others: it holds pod details");
  });

  test("an in-progress ADD round-trips with no result", async () => {
    const dir = join(root, "adding");
    const written = entry({ state: "adding", result: null });
    await writeCacheEntry(dir, written);
    assert.deepEqual(await readCacheEntry(dir, "berth", "c1", "eth0"), written);
  });

  test("absent is undefined; removing twice is fine; empty directories go", async () => {
    const dir = join(root, "remove");
    assert.equal(await readCacheEntry(dir, "berth", "c1", "eth0"), undefined);
    await writeCacheEntry(dir, entry());
    await writeCacheEntry(dir, entry({ ifName: "net1" }));
    await removeCacheEntry(dir, "berth", "c1", "eth0");
    assert.equal(await readCacheEntry(dir, "berth", "c1", "eth0"), undefined);
    assert.ok(await readCacheEntry(dir, "berth", "c1", "net1"), "the other attachment stays");
    await removeCacheEntry(dir, "berth", "c1", "net1");
    await removeCacheEntry(dir, "berth", "c1", "net1");
    assert.deepEqual(await readdir(join(dir, "results")), []);
  });

  const corrupt: Array<{ name: string; text: string; message: RegExp }> = [
    { name: "not JSON", text: "{", message: /not JSON/ },
    { name: "another kind", text: '{"kind":"cniCacheV1"}', message: /kind is not/ },
    {
      name: "a bad result",
      text: JSON.stringify({ ...entry(), result: [] }),
      message: /"result" is not an object/,
    },
    {
      name: "bad args",
      text: JSON.stringify({ ...entry(), cniArgs: [["a"]] }),
      message: /cniArgs/,
    },
    {
      name: "an unknown state",
      text: JSON.stringify({ ...entry(), state: "weird" }),
      message: /state/,
    },
    {
      name: "no config",
      text: JSON.stringify({ ...entry(), config: { file: "x" } }),
      message: /config/,
    },
  ];
  for (const { name, text, message } of corrupt) {
    test(`a file with ${name} is reported, naming the file`, async () => {
      const dir = join(root, `corrupt-${name.replaceAll(" ", "-")}`);
      const path = cacheFilePath(dir, "berth", "c1", "eth0");
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
      await assert.rejects(readCacheEntry(dir, "berth", "c1", "eth0"), (err: Error) => {
        assert.match(err.message, message);
        assert.ok(err.message.includes(path));
        return true;
      });
    });
  }

  test("lists a container's attachments across networks, with problems", async () => {
    const dir = join(root, "list");
    await writeCacheEntry(dir, entry({ network: "a-net" }));
    await writeCacheEntry(dir, entry({ network: "b-net", ifName: "net1" }));
    await writeCacheEntry(dir, entry({ network: "b-net", containerId: "other" }));
    const broken = cacheFilePath(dir, "c-net", "c1", "eth0");
    await mkdir(dirname(broken), { recursive: true });
    await writeFile(broken, "{");
    await writeFile(`${cacheFilePath(dir, "a-net", "c1", "eth0")}.tmp-1-x`, "partial");
    const { entries, problems } = await listCacheEntries(dir, "c1");
    assert.deepEqual(
      entries.map((e) => [e.network, e.containerId, e.ifName]),
      [
        ["a-net", "c1", "eth0"],
        ["b-net", "c1", "net1"],
      ],
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /c-net/);
    assert.deepEqual(await listCacheEntries(join(root, "nothing"), "c1"), {
      entries: [],
      problems: [],
    });
  });
});
