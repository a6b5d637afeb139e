import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { pino } from "pino";
import {
  type CniAttachment,
  CniNetwork,
  CniPluginError,
  cachedNetwork,
  listCachedAttachments,
} from "./cni.ts";
import { cacheFilePath, readCacheEntry, writeCacheEntry } from "./cni-cache.ts";
import { type CniNetworkList, parseNetworkConfig } from "./cni-config.ts";

const log = pino({ level: "silent" });

/** Resolves once a plugin has made the file: aborting then hits it mid-run, however slow. */
async function waitForFile(path: string): Promise<void> {
  for (;;) {
    try {
      await readFile(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/**
 * Fake plugins: shell scripts that record each invocation (stdin and CNI_* environment) and
 * answer what the test put in behaviour/<type>-<COMMAND>.out and .exit.
 */
const FAKE = `#!/bin/sh
root="$(dirname "$0")/.."
type=\${FAKE_TYPE:-$(basename "$0")}
id=$(printf '%04d' "$(ls "$root/calls" | wc -l)")-$type-$CNI_COMMAND
cat > "$root/calls/$id"
env | grep '^CNI_' | sort > "$root/envs/$id"
b="$root/behaviour/$type-$CNI_COMMAND"
[ -f "$b.out" ] && cat "$b.out"
[ -f "$b.exit" ] && exit "$(cat "$b.exit")"
exit 0
`;

interface Call {
  type: string;
  command: string;
  stdin: Record<string, unknown>;
  env: Record<string, string>;
}

const bridgeResult = (version: string) => ({
  cniVersion: version,
  interfaces: [
    { name: "br0", mac: "00:00:00:00:00:01" },
    { name: "veth1", mac: "00:00:00:00:00:02" },
    { name: "eth0", mac: "00:00:00:00:00:03", sandbox: "/proc/1/ns/net" },
  ],
  ips: [
    { interface: 2, address: "fd00::5/64", gateway: "fd00::1" },
    { interface: 2, address: "10.1.0.5/24", gateway: "10.1.0.1" },
  ],
});

describe("CniNetwork (fake plugins)", () => {
  let root: string;
  let bin: string;
  let cacheDir: string;
  const netns = "/proc/self/ns/net";

  const pod = (overrides: Partial<CniAttachment> = {}): CniAttachment => ({
    containerId: "sandbox1",
    netnsPath: netns,
    podNamespace: "default",
    podName: "web",
    podUid: "uid-1",
    ...overrides,
  });

  function list(raw: Record<string, unknown>, file = "/etc/cni/net.d/10-test.conflist") {
    return parseNetworkConfig(JSON.stringify(raw), file);
  }

  const twoPlugins = (version = "1.0.0", extra: Record<string, unknown> = {}) =>
    list({
      cniVersion: version,
      name: "testnet",
      plugins: [
        { type: "fakebridge", bridge: "br0", ipam: { type: "host-local" } },
        { type: "fakeportmap", capabilities: { portMappings: true }, snat: true },
      ],
      ...extra,
    });

  const network = (config: CniNetworkList, timeoutMs?: number) =>
    new CniNetwork(config, {
      cacheDir,
      binDirs: [join(root, "nothing-here"), bin],
      log,
      ...(timeoutMs ? { timeoutMs } : {}),
    });

  async function behave(type: string, command: string, out: unknown, exit?: number) {
    const base = join(root, "behaviour", `${type}-${command}`);
    if (out !== undefined) {
      await writeFile(`${base}.out`, typeof out === "string" ? out : JSON.stringify(out));
    }
    if (exit !== undefined) await writeFile(`${base}.exit`, String(exit));
  }

  /** The invocations in order; VERSION probes only when asked for. */
  async function calls(withVersion = false): Promise<Call[]> {
    const ids = (await readdir(join(root, "calls")))
      .filter((id) => withVersion || !id.endsWith("-VERSION"))
      .sort();
    return Promise.all(
      ids.map(async (id) => {
        const [, type = "", command = ""] = id.split("-");
        const text = await readFile(join(root, "calls", id), "utf8");
        const env = Object.fromEntries(
          (await readFile(join(root, "envs", id), "utf8"))
            .trim()
            .split("\n")
            .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
        );
        return { type, command, stdin: JSON.parse(text), env };
      }),
    );
  }

  /** Pretends sandbox1's ADD ran with another config. */
  async function recache(config: CniNetworkList) {
    const entry = await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0");
    assert.ok(entry);
    await writeCacheEntry(cacheDir, { ...entry, config: { file: config.file, raw: config.raw } });
  }

  const summary = async () => (await calls()).map((c) => `${c.command} ${c.type}`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-cni-test-"));
    bin = join(root, "bin");
    await mkdir(bin);
    for (const type of ["fakebridge", "fakeportmap", "fakefirewall", "fakefail"]) {
      await writeFile(join(bin, type), FAKE);
      await chmod(join(bin, type), 0o755);
    }
  });
  beforeEach(async () => {
    for (const dir of ["calls", "envs", "behaviour", "cache"]) {
      await rm(join(root, dir), { recursive: true, force: true });
      await mkdir(join(root, dir));
    }
    cacheDir = join(root, "cache");
    await behave("fakebridge", "ADD", bridgeResult("1.0.0"));
    await behave("fakeportmap", "ADD", bridgeResult("1.0.0"));
    await behave("fakefirewall", "ADD", bridgeResult("1.0.0"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe("ADD", () => {
    test("chains results, injects name and version, filters capabilities", async () => {
      const result = await network(twoPlugins()).add(
        pod({
          capabilities: {
            portMappings: [
              { hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "" },
              { hostPort: 0, containerPort: 81, protocol: "tcp" },
            ],
            bandwidth: { ingressRate: 1000, ingressBurst: 1000 },
          },
        }),
      );
      assert.deepEqual(result.podIps, ["10.1.0.5", "fd00::5"]);
      assert.equal(result.network, "testnet");
      assert.equal(result.ifName, "eth0");
      assert.equal(result.cniVersion, "1.0.0");
      assert.deepEqual(result.result, bridgeResult("1.0.0"));

      const [bridge, portmap, ...rest] = await calls();
      assert.equal(rest.length, 0);
      assert.deepEqual(bridge?.stdin, {
        type: "fakebridge",
        bridge: "br0",
        ipam: { type: "host-local" },
        cniVersion: "1.0.0",
        name: "testnet",
      });
      assert.deepEqual(portmap?.stdin, {
        type: "fakeportmap",
        snat: true,
        cniVersion: "1.0.0",
        name: "testnet",
        runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
        prevResult: bridgeResult("1.0.0"),
      });
      assert.deepEqual(bridge?.env, {
        CNI_ARGS:
          "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sandbox1;K8S_POD_UID=uid-1",
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "sandbox1",
        CNI_IFNAME: "eth0",
        CNI_NETNS: netns,
        CNI_PATH: `${join(root, "nothing-here")}:${bin}`,
      });
    });

    test("the result is cached with what DEL needs, and survives a new instance", async () => {
      await network(twoPlugins()).add(
        pod({
          capabilities: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "udp" }] },
        }),
      );
      const entry = await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0");
      assert.equal(entry?.state, "added");
      assert.equal(entry?.netnsPath, netns);
      assert.deepEqual(entry?.result, bridgeResult("1.0.0"));
      assert.deepEqual(entry?.capabilityArgs, {
        portMappings: [{ hostPort: 1, containerPort: 2, protocol: "udp" }],
      });
      assert.deepEqual(entry?.config.raw, twoPlugins().raw);
      const again = await network(twoPlugins()).cachedResult("sandbox1");
      assert.deepEqual(again?.podIps, ["10.1.0.5", "fd00::5"]);
      assert.equal(await network(twoPlugins()).cachedResult("sandbox1", "net1"), undefined);
    });

    test("a second ADD of the same attachment is refused", async () => {
      const net = network(twoPlugins());
      await net.add(pod());
      await assert.rejects(net.add(pod()), /already attached to CNI network testnet as eth0/);
    });

    test("a second interface of the same container is another attachment", async () => {
      const net = network(twoPlugins());
      await net.add(pod());
      await net.add(pod({ ifName: "net1" }));
      const { attachments } = await listCachedAttachments(cacheDir, "sandbox1");
      assert.deepEqual(
        attachments.map((a) => [a.network, a.ifName, a.complete, a.podIps]),
        [
          ["testnet", "eth0", true, ["10.1.0.5", "fd00::5"]],
          ["testnet", "net1", true, ["10.1.0.5", "fd00::5"]],
        ],
      );
    });

    test("an ADD interrupted by a crash is undone before adding again", async () => {
      const net = network(twoPlugins());
      await writeCacheEntry(cacheDir, {
        kind: "berthCniCacheV1",
        network: "testnet",
        containerId: "sandbox1",
        ifName: "eth0",
        netnsPath: netns,
        cniVersion: "1.0.0",
        config: {
          file: "/old.conf",
          raw: { cniVersion: "1.0.0", name: "testnet", type: "fakebridge" },
        },
        cniArgs: [["IgnoreUnknown", "1"]],
        capabilityArgs: {},
        state: "adding",
        result: null,
      });
      await net.add(pod());
      assert.deepEqual(await summary(), ["DEL fakebridge", "ADD fakebridge", "ADD fakeportmap"]);
    });

    test("a missing plugin fails before anything runs", async () => {
      const config = list({
        cniVersion: "1.0.0",
        name: "testnet",
        plugins: [{ type: "fakebridge" }, { type: "nosuchplugin" }],
      });
      await assert.rejects(network(config).add(pod()), /"nosuchplugin" not found/);
      assert.deepEqual(await summary(), []);
      assert.equal(await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0"), undefined);
    });

    test("a plugin answering no result fails the ADD", async () => {
      await rm(join(root, "behaviour", "fakeportmap-ADD.out"));
      await assert.rejects(network(twoPlugins()).add(pod()), /fakeportmap failed ADD.*no result/);
    });

    test("bad attachment parameters are invalid arguments", async () => {
      const net = network(twoPlugins());
      await assert.rejects(net.add(pod({ containerId: "-x" })), { kind: "InvalidArgument" });
      await assert.rejects(net.add(pod({ ifName: "a/b" })), { kind: "InvalidArgument" });
      await assert.rejects(net.add(pod({ podName: "a;b" })), { kind: "InvalidArgument" });
      await assert.rejects(net.add(pod({ netnsPath: "/proc/999999999/ns/net" })), {
        kind: "FailedPrecondition",
        message: "network namespace /proc/999999999/ns/net of sandbox1 does not exist",
      });
      assert.deepEqual(await summary(), []);
    });
  });

  describe("rollback of a failed ADD", () => {
    const threePlugins = () =>
      list({
        cniVersion: "1.0.0",
        name: "testnet",
        plugins: [{ type: "fakebridge" }, { type: "fakefail" }, { type: "fakefirewall" }],
      });

    test("DELs what ran, failed plugin included, in reverse, then throws the ADD's error", async () => {
      await behave("fakefail", "ADD", { code: 7, msg: "Invalid Configuration", details: "bad" }, 1);
      await assert.rejects(network(threePlugins()).add(pod()), (err: unknown) => {
        assert.ok(err instanceof CniPluginError);
        assert.equal(err.plugin, "fakefail");
        assert.equal(err.command, "ADD");
        assert.equal(err.kind, "FailedPrecondition");
        assert.match(err.message, /Invalid Configuration: bad \(code 7\)/);
        return true;
      });
      const all = await calls();
      assert.deepEqual(
        all.map((c) => `${c.command} ${c.type}`),
        ["ADD fakebridge", "ADD fakefail", "DEL fakefail", "DEL fakebridge"],
      );
      for (const del of all.filter((c) => c.command === "DEL")) {
        assert.deepEqual(del.stdin.prevResult, bridgeResult("1.0.0"), "the last result there was");
      }
      assert.equal(await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0"), undefined);
    });

    test("a rollback that fails keeps the cache for the sandbox's DEL", async () => {
      await behave("fakefail", "ADD", { code: 100, msg: "no" }, 1);
      await behave("fakebridge", "DEL", { code: 999, msg: "iptables: chain missing" }, 1);
      await assert.rejects(
        network(threePlugins()).add(pod()),
        /fakefail failed ADD.*no \(code 100\).*rollback: .*fakebridge failed DEL.*chain missing/,
      );
      const entry = await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0");
      assert.equal(entry?.state, "adding");
      assert.deepEqual(entry?.result, bridgeResult("1.0.0"));
      await rm(join(root, "behaviour", "fakebridge-DEL.exit"));
      const del = await network(threePlugins()).del({ containerId: "sandbox1" });
      assert.deepEqual(del, { errors: [], cached: true });
    });

    test("an ADD abandoned by its caller is still rolled back", async () => {
      await writeFile(
        join(bin, "fakeslow"),
        `#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then touch "${root}/slow.started"; exec sleep 30; fi\nFAKE_TYPE=fakeslow exec "$(dirname "$0")/fakebridge"\n`,
      );
      await chmod(join(bin, "fakeslow"), 0o755);
      const config = list({
        cniVersion: "1.0.0",
        name: "testnet",
        plugins: [{ type: "fakebridge" }, { type: "fakeslow" }],
      });
      const controller = new AbortController();
      void waitForFile(join(root, "slow.started")).then(() => controller.abort());
      await assert.rejects(network(config).add(pod(), controller.signal), { kind: "Cancelled" });
      assert.deepEqual(await summary(), ["ADD fakebridge", "DEL fakeslow", "DEL fakebridge"]);
      assert.equal(await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0"), undefined);
    });
  });

  describe("DEL", () => {
    test("reverse order, the cached result as prevResult, the cached config and args", async () => {
      await network(twoPlugins()).add(
        pod({
          capabilities: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
        }),
      );
      // The conf dir changed meanwhile: DEL must still undo what ADD did.
      const changed = list({
        cniVersion: "1.0.0",
        name: "testnet",
        plugins: [{ type: "fakefirewall" }],
      });
      const result = await network(changed).del({ containerId: "sandbox1" });
      assert.deepEqual(result, { errors: [], cached: true });
      const dels = (await calls()).filter((c) => c.command === "DEL");
      assert.deepEqual(
        dels.map((c) => c.type),
        ["fakeportmap", "fakebridge"],
      );
      for (const del of dels) {
        assert.deepEqual(del.stdin.prevResult, bridgeResult("1.0.0"));
        assert.equal(del.env.CNI_NETNS, netns);
        assert.match(del.env.CNI_ARGS ?? "", /K8S_POD_NAME=web/);
      }
      assert.deepEqual(dels[0]?.stdin.runtimeConfig, {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      });
      await assert.rejects(
        readFile(cacheFilePath(cacheDir, "testnet", "sandbox1", "eth0")),
        /ENOENT/,
      );
    });

    test("a netns that is gone is passed as an empty CNI_NETNS", async () => {
      await network(twoPlugins()).add(pod({ netnsPath: netns }));
      await network(twoPlugins()).del({
        containerId: "sandbox1",
        netnsPath: "/proc/999999999/ns/net",
      });
      const dels = (await calls()).filter((c) => c.command === "DEL");
      assert.equal(dels.length, 2);
      for (const del of dels) assert.equal(del.env.CNI_NETNS, "");
    });

    test("without a cached ADD the plugins still run, with what the caller knows", async () => {
      const result = await network(twoPlugins()).del({
        containerId: "sandbox1",
        netnsPath: "/nonexistent",
        podName: "web",
        podNamespace: "default",
      });
      assert.deepEqual(result, { errors: [], cached: false });
      const dels = await calls();
      assert.deepEqual(
        dels.map((c) => `${c.command} ${c.type}`),
        ["DEL fakeportmap", "DEL fakebridge"],
      );
      for (const del of dels) {
        assert.equal("prevResult" in del.stdin, false);
        assert.equal(del.env.CNI_NETNS, "");
        assert.equal(
          del.env.CNI_ARGS,
          "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sandbox1",
        );
      }
    });

    test("every plugin's DEL runs when one fails; the failures are answered", async () => {
      await network(twoPlugins()).add(pod());
      await behave("fakeportmap", "DEL", { code: 999, msg: "chain CNI-DN-x does not exist" }, 1);
      const result = await network(twoPlugins()).del({ containerId: "sandbox1" });
      assert.equal(result.cached, true);
      assert.deepEqual(result.errors, [
        "CNI plugin fakeportmap failed DEL on network testnet: chain CNI-DN-x does not exist (code 999)",
      ]);
      assert.deepEqual((await summary()).slice(2), ["DEL fakeportmap", "DEL fakebridge"]);
      assert.equal(await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0"), undefined);
      // And again: DEL is idempotent, now without the cache.
      await rm(join(root, "behaviour", "fakeportmap-DEL.exit"));
      assert.deepEqual(await network(twoPlugins()).del({ containerId: "sandbox1" }), {
        errors: [],
        cached: false,
      });
    });

    test("a plugin that is gone is an answered error, not a throw", async () => {
      await network(twoPlugins()).add(pod());
      const stale = twoPlugins();
      (stale.raw.plugins as Array<{ type: string }>)[1] = { type: "uninstalled" };
      await recache(stale);
      const result = await network(twoPlugins()).del({ containerId: "sandbox1" });
      assert.equal(result.errors.length, 1);
      assert.match(result.errors[0] ?? "", /"uninstalled" not found/);
      assert.deepEqual((await summary()).slice(2), ["DEL fakebridge"]);
    });

    test("an abandoned DEL stops and keeps the cache for the retry", async () => {
      await network(twoPlugins()).add(pod());
      const slow = list({
        cniVersion: "1.0.0",
        name: "testnet",
        plugins: [{ type: "fakebridge" }, { type: "fakesleep" }],
      });
      await writeFile(
        join(bin, "fakesleep"),
        `#!/bin/sh\ntouch "${root}/sleep.started"\nexec sleep 30\n`,
      );
      await chmod(join(bin, "fakesleep"), 0o755);
      await recache(slow);
      const controller = new AbortController();
      void waitForFile(join(root, "sleep.started")).then(() => controller.abort());
      await assert.rejects(
        network(twoPlugins()).del({ containerId: "sandbox1" }, controller.signal),
        { kind: "Cancelled" },
      );
      assert.ok(await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0"));
      assert.deepEqual((await summary()).slice(2), [], "fakebridge's DEL did not run");
    });

    test("0.3.x: no prevResult on DEL (it arrived with 0.4.0)", async () => {
      await behave("fakebridge", "ADD", bridgeResult("0.3.1"));
      await behave("fakeportmap", "ADD", bridgeResult("0.3.1"));
      await network(twoPlugins("0.3.1")).add(pod());
      await network(twoPlugins("0.3.1")).del({ containerId: "sandbox1" });
      const dels = (await calls()).filter((c) => c.command === "DEL");
      assert.equal(dels.length, 2);
      for (const del of dels) {
        assert.equal("prevResult" in del.stdin, false);
        assert.equal(del.stdin.cniVersion, "0.3.1");
      }
    });

    test("a config berth cannot speak is an answered error, not a throw", async () => {
      const old = list({ cniVersion: "0.2.0", name: "testnet", type: "fakebridge" }, "/x/old.conf");
      const result = await network(old).del({ containerId: "sandbox1" });
      assert.equal(result.cached, false);
      assert.match(result.errors[0] ?? "", /CNI version 0\.2\.0; berth supports 0\.3\.0/);
      await assert.rejects(network(old).add(pod()), { kind: "FailedPrecondition" });
    });

    test("a network whose config changed name is torn down from its cache", async () => {
      await network(twoPlugins()).add(pod());
      const options = { cacheDir, binDirs: [bin], log };
      const cached = await cachedNetwork(options, "testnet", "sandbox1");
      assert.ok(cached);
      assert.equal(cached.name, "testnet");
      assert.deepEqual(await cached.del({ containerId: "sandbox1" }), { errors: [], cached: true });
      assert.equal(await cachedNetwork(options, "testnet", "sandbox1"), undefined);
    });
  });

  describe("CHECK", () => {
    test("every plugin in order, with the cached result", async () => {
      const net = network(twoPlugins());
      await net.add(pod());
      assert.deepEqual(await net.check({ containerId: "sandbox1" }), { checked: true });
      const checks = (await calls()).filter((c) => c.command === "CHECK");
      assert.deepEqual(
        checks.map((c) => c.type),
        ["fakebridge", "fakeportmap"],
      );
      for (const check of checks) {
        assert.deepEqual(check.stdin.prevResult, bridgeResult("1.0.0"));
        assert.equal(check.env.CNI_NETNS, netns);
      }
    });

    test("the first failure is thrown", async () => {
      const net = network(twoPlugins());
      await net.add(pod());
      await behave("fakebridge", "CHECK", { code: 100, msg: "eth0 has no address" }, 1);
      await assert.rejects(
        net.check({ containerId: "sandbox1" }),
        /fakebridge failed CHECK.*eth0 has no address/,
      );
      assert.deepEqual(
        (await calls()).filter((c) => c.command === "CHECK").map((c) => c.type),
        ["fakebridge"],
      );
    });

    test("a chained plugin's failure is returned, the others still run", async () => {
      const net = network(twoPlugins());
      await net.add(pod());
      await behave("fakeportmap", "CHECK", { code: 999, msg: "could not check ipv6 dnat" }, 1);
      const outcome = await net.check({ containerId: "sandbox1" });
      assert.equal(outcome.checked, true);
      const failures = outcome.checked ? (outcome.chainedFailures ?? []) : [];
      assert.equal(failures.length, 1);
      assert.match(failures[0] ?? "", /fakeportmap failed CHECK.*could not check ipv6 dnat/);
      assert.deepEqual(
        (await calls()).filter((c) => c.command === "CHECK").map((c) => c.type),
        ["fakebridge", "fakeportmap"],
      );
    });

    test("skipped before 0.4.0 and with disableCheck", async () => {
      await behave("fakebridge", "ADD", bridgeResult("0.3.1"));
      await behave("fakeportmap", "ADD", bridgeResult("0.3.1"));
      const old = network(twoPlugins("0.3.1"));
      await old.add(pod());
      assert.deepEqual(await old.check({ containerId: "sandbox1" }), {
        checked: false,
        reason: "CNI version 0.3.1 has no CHECK",
      });
      const disabled = network(twoPlugins("1.0.0", { disableCheck: true }));
      await disabled.add(pod({ containerId: "sandbox2" }));
      assert.deepEqual(await disabled.check({ containerId: "sandbox2" }), {
        checked: false,
        reason: "the network config sets disableCheck",
      });
      assert.equal((await calls()).filter((c) => c.command === "CHECK").length, 0);
    });

    test("nothing to check without a completed ADD", async () => {
      await assert.rejects(network(twoPlugins()).check({ containerId: "sandbox1" }), {
        kind: "FailedPrecondition",
      });
    });
  });

  describe("STATUS", () => {
    test("before 1.1.0: ready when every plugin is installed, without running them", async () => {
      assert.deepEqual(await network(twoPlugins()).status(), { ready: true });
      const missing = list({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "gone" }] });
      const status = await network(missing).status();
      assert.equal(status.ready, false);
      assert.match(status.ready ? "" : status.reason, /"gone" not found/);
      assert.deepEqual(await summary(), []);
    });

    test("1.1.0: each plugin's STATUS, with only CNI_COMMAND and CNI_PATH", async () => {
      assert.deepEqual(await network(twoPlugins("1.1.0")).status(), { ready: true });
      const runs = await calls();
      assert.deepEqual(
        runs.map((c) => `${c.command} ${c.type}`),
        ["STATUS fakebridge", "STATUS fakeportmap"],
      );
      assert.deepEqual(Object.keys(runs[0]?.env ?? {}), ["CNI_COMMAND", "CNI_PATH"]);
      assert.deepEqual(runs[1]?.stdin, {
        type: "fakeportmap",
        snat: true,
        cniVersion: "1.1.0",
        name: "testnet",
      });
    });

    test("1.1.0: a plugin's STATUS error is not ready, with its code", async () => {
      await behave("fakeportmap", "STATUS", { code: 50, msg: "daemon down" }, 1);
      const status = await network(twoPlugins("1.1.0")).status();
      assert.equal(status.ready, false);
      assert.equal(status.ready ? undefined : status.code, 50);
      assert.match(status.ready ? "" : status.reason, /daemon down/);
    });
  });

  test("cniVersions: the newest version every plugin reports", async () => {
    const versions = { cniVersion: "1.0.0", supportedVersions: ["0.3.1", "0.4.0", "1.0.0"] };
    await behave("fakebridge", "VERSION", versions);
    await behave("fakeportmap", "VERSION", { ...versions, supportedVersions: ["1.0.0", "1.1.0"] });
    const net = network(twoPlugins("0.4.0", { cniVersions: ["0.4.0", "1.0.0", "1.1.0"] }));
    const result = await net.add(pod());
    assert.equal(result.cniVersion, "1.0.0");
    const runs = await calls(true);
    // The plugins are asked in parallel, once each.
    const probes = runs.slice(0, 2);
    assert.deepEqual(probes.map((c) => `${c.command} ${c.type}`).sort(), [
      "VERSION fakebridge",
      "VERSION fakeportmap",
    ]);
    for (const probe of probes) assert.deepEqual(probe.stdin, { cniVersion: "1.1.0" });
    assert.deepEqual(
      runs.slice(2).map((c) => `${c.command} ${c.type} ${c.stdin.cniVersion}`),
      ["ADD fakebridge 1.0.0", "ADD fakeportmap 1.0.0"],
    );
  });

  test("a plugin whose VERSION lacks the config's version fails ADD before anything runs", async () => {
    await behave("fakeportmap", "VERSION", {
      cniVersion: "1.0.0",
      supportedVersions: ["0.4.0", "1.0.0"],
    });
    const net = network(twoPlugins("0.3.1"));
    await assert.rejects(net.add(pod()), {
      kind: "FailedPrecondition",
      message:
        "CNI plugin fakeportmap supports CNI versions 0.4.0, 1.0.0, not 0.3.1 that network testnet (/etc/cni/net.d/10-test.conflist) uses",
    });
    assert.deepEqual(await summary(), []);
    assert.equal(await readCacheEntry(cacheDir, "testnet", "sandbox1", "eth0"), undefined);
    const status = await net.status();
    assert.equal(status.ready, false);
    assert.match(
      status.ready ? "" : status.reason,
      /fakeportmap supports CNI versions 0.4.0, 1.0.0/,
    );
    // Asked once per plugin binary, not per call.
    assert.equal((await calls(true)).filter((c) => c.type === "fakeportmap").length, 1);
  });

  test("a network name that cannot name files is refused", () => {
    const bad = list({ cniVersion: "1.0.0", name: "../etc", type: "fakebridge" }, "/x/a.conf");
    assert.throws(() => network(bad), { kind: "FailedPrecondition" });
  });
});
