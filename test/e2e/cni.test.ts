/**
 * berth's CNI layer against the real plugins (Debian's containernetworking-plugins in
 * /usr/lib/cni) and real network namespaces. Everything it creates carries a test-only name
 * (netns berth-test-<pid>-N, bridges berthtest0/berthtest6, networks berth-test/berth-test6,
 * subnets 10.99.0.0/24 and fd99:99::/64) and is removed again, leftovers of a crashed run
 * included; iptables must look the same afterwards as before.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { pino } from "pino";
import { type CniAddResult, type CniAttachment, CniNetwork } from "../../src/network/cni.ts";
import { cacheFilePath } from "../../src/network/cni-cache.ts";
import {
  type CniNetworkList,
  findNetworkConfig,
  parseNetworkConfig,
} from "../../src/network/cni-config.ts";
import { defaultNetworkConfig, ensureDefaultNetwork } from "../../src/network/default-network.ts";
import {
  ensureForwardingRules,
  forwardingRulesOf,
  removeForwardingRules,
} from "../../src/network/forwarding-rules.ts";

const exec = promisify(execFile);
const log = pino({ level: process.env.BERTH_TEST_LOG ?? "silent" });

const NETWORK = "berth-test";
const BRIDGE = "berthtest0";
const SUBNET = "10.99.0.0/24";
const NETWORK6 = "berth-test6";
const BRIDGE6 = "berthtest6";
const SUBNETS6 = "10.99.6.0/24,fd99:99::/64";
const HOST_PORT = 18080;
const NETNS_PREFIX = "berth-test-";
const HOST_LOCAL_DIR = "/var/lib/cni/networks";
const PLUGIN_DIR = "/usr/lib/cni";
/** What marks a leftover of this test in iptables: its network names and subnets. */
const OURS = [/name: \\"berth-test6?\\"/, /\b10\.99\.[06]\.\d+/, /fd99:99:/];

async function sh(command: string): Promise<string> {
  return (await exec("sh", ["-c", command])).stdout;
}

async function ipJson<T>(...args: string[]): Promise<T> {
  return JSON.parse((await exec("ip", ["-j", ...args])).stdout) as T;
}

// ---------------------------------------------------------------------------------------------
// iptables bookkeeping

type Family = "iptables" | "ip6tables";
const FAMILIES: Family[] = ["iptables", "ip6tables"];

/** The CNI lines of iptables-save, per table, counters stripped. */
async function cniRules(family: Family): Promise<string[]> {
  const out = await sh(`${family}-save`);
  const lines: string[] = [];
  let table = "";
  for (const raw of out.split("\n")) {
    const line = raw.replace(/ \[\d+:\d+\]$/, "");
    if (line.startsWith("*")) table = line.slice(1);
    else if (/cni/i.test(line)) lines.push(`${table} ${line}`);
  }
  return lines.sort();
}

/**
 * The chains and jumps the plugins share between all pods (firewall's CNI-FORWARD, portmap's
 * CNI-HOSTPORT-*). They stay when the last pod goes, and the plugins make them again on the
 * next ADD: the test removes them when no pod of anyone uses them, and otherwise ignores them.
 */
const SHARED_RULES = [
  'filter -A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD',
  'filter -A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN',
  "nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
  "nat -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
  'nat -A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
  "nat -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE",
  'nat -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000',
];
const SHARED_CHAINS = [
  "filter :CNI-FORWARD -",
  "filter :CNI-ADMIN -",
  "nat :CNI-HOSTPORT-DNAT -",
  "nat :CNI-HOSTPORT-MASQ -",
  "nat :CNI-HOSTPORT-SETMARK -",
];
const SHARED = new Set([...SHARED_RULES, ...SHARED_CHAINS]);

/** The CNI rules that belong to pods, the shared skeleton left out. */
async function podRules(family: Family): Promise<string[]> {
  return (await cniRules(family)).filter((line) => !SHARED.has(line));
}

async function deleteRule(family: Family, tableAndRule: string): Promise<void> {
  const [table, ...rule] = tableAndRule.split(" ");
  // iptables-save quotes its output as a shell would read it.
  await sh(`${family} -w -t ${table} ${rule.join(" ").replace(/^-A /, "-D ")}`).catch(() => {});
}

async function deleteChain(family: Family, table: string, chain: string): Promise<void> {
  await sh(`${family} -w -t ${table} -F ${chain}`).catch(() => {});
  await sh(`${family} -w -t ${table} -X ${chain}`).catch(() => {});
}

/** Rules of this test's networks and subnets, and the per-pod chains they jump to. */
async function removeOurRules(): Promise<string[]> {
  const removed: string[] = [];
  for (const family of FAMILIES) {
    const rules = (await cniRules(family)).filter(
      (line) => line.includes(" -A ") && OURS.some((pattern) => pattern.test(line)),
    );
    const chains = new Set<string>();
    for (const line of rules) {
      await deleteRule(family, line);
      removed.push(`${family}: ${line}`);
      const target = / -j (CNI-\S+)/.exec(line)?.[1];
      if (target && !SHARED_CHAINS.some((c) => c.includes(`:${target} `))) {
        chains.add(`${line.split(" ")[0]} ${target}`);
      }
    }
    for (const entry of chains) {
      const [table = "", chain = ""] = entry.split(" ");
      await deleteChain(family, table, chain);
    }
  }
  return removed;
}

/** The shared skeleton, when nothing else of CNI is left in iptables. */
async function removeUnusedSkeleton(): Promise<void> {
  for (const family of FAMILIES) {
    const lines = await cniRules(family);
    if (lines.length === 0 || !lines.every((line) => SHARED.has(line))) continue;
    for (const line of lines.filter((l) => l.includes(" -A "))) await deleteRule(family, line);
    for (const line of lines.filter((l) => l.includes(" :"))) {
      const [table = "", chain = ""] = line.split(" ");
      await deleteChain(family, table, chain.slice(1));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// namespaces, links, servers

let nsCounter = 0;
const ourNetns = new Set<string>();

async function newNetns(): Promise<{ name: string; path: string }> {
  const name = `${NETNS_PREFIX}${process.pid}-${nsCounter++}`;
  await exec("ip", ["netns", "add", name]);
  ourNetns.add(name);
  return { name, path: `/var/run/netns/${name}` };
}

async function deleteNetns(name: string): Promise<void> {
  await exec("ip", ["netns", "delete", name]).catch(() => {});
  ourNetns.delete(name);
}

async function inNetns(ns: string, ...command: string[]): Promise<string> {
  return (await exec("ip", ["netns", "exec", ns, ...command])).stdout;
}

interface IpAddr {
  ifname: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number }>;
}

async function addressesIn(ns: string, ifName = "eth0"): Promise<string[]> {
  const links = JSON.parse(
    await inNetns(ns, "ip", "-j", "addr", "show", "dev", ifName),
  ) as IpAddr[];
  return links.flatMap((link) =>
    link.addr_info
      .filter((a) => !a.local.startsWith("fe80:"))
      .map((a) => `${a.local}/${a.prefixlen}`),
  );
}

async function linkExists(name: string): Promise<boolean> {
  return exec("ip", ["link", "show", "dev", name]).then(
    () => true,
    () => false,
  );
}

async function reservations(network: string): Promise<string[]> {
  try {
    return (await readdir(join(HOST_LOCAL_DIR, network))).filter(
      (name) => name !== "lock" && !name.startsWith("last_reserved_ip"),
    );
  } catch {
    return [];
  }
}

/** The host end of the pod's veth: the result's interface without a sandbox, not the bridge. */
function hostVeth(result: CniAddResult, bridge: string): string {
  const interfaces = result.result.interfaces as Array<{ name: string; sandbox?: string }>;
  const veth = interfaces.find((i) => !i.sandbox && i.name !== bridge);
  assert.ok(veth, "the result names the host veth");
  return veth.name;
}

/** A TCP server inside the pod answering every connection with a greeting. */
async function serveInNetns(ns: string, port: number): Promise<ChildProcess> {
  const script = `require("net").createServer((s) => s.end("hello from the pod\\n")).listen(${port}, "0.0.0.0", () => console.log("listening"))`;
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the pod's server did not start")), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => reject(new Error(`the pod's server exited (${code})`)));
  });
  return child;
}

function fetchGreeting(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = "";
    socket.setTimeout(3_000, () => socket.destroy(new Error(`no answer from ${host}:${port}`)));
    socket.on("data", (chunk) => {
      data += chunk.toString();
    });
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

/** The node's own address on its default route, if it has one. */
async function primaryAddress(): Promise<string | undefined> {
  try {
    const routes = await ipJson<Array<{ prefsrc?: string }>>("-4", "route", "get", "1.1.1.1");
    return routes[0]?.prefsrc;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cleanLeftovers(): Promise<string[]> {
  const found: string[] = [];
  const namespaces = (await sh("ip netns list"))
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "");
  // Only those of test processes that are gone: a parallel run keeps its own.
  const stale = (name: string) => {
    const pid = Number(new RegExp(`^${NETNS_PREFIX}(\\d+)-\\d+$`).exec(name)?.[1] ?? Number.NaN);
    return !Number.isNaN(pid) && (pid === process.pid || !alive(pid));
  };
  for (const name of namespaces.filter(stale)) {
    await exec("ip", ["netns", "delete", name]).catch(() => {});
    found.push(`netns ${name}`);
  }
  // The bridge plugin never removes a bridge: the test does, without counting it a leftover.
  for (const bridge of [BRIDGE, BRIDGE6]) {
    if (await linkExists(bridge)) await exec("ip", ["link", "delete", bridge]);
  }
  for (const network of [NETWORK, NETWORK6]) {
    if (existsSync(join(HOST_LOCAL_DIR, network))) {
      found.push(...(await reservations(network)).map((ip) => `reservation ${network}/${ip}`));
      await rm(join(HOST_LOCAL_DIR, network), { recursive: true, force: true });
    }
  }
  found.push(...(await removeOurRules()));
  // berth's per-bridge rules (forwarding-rules.ts), which berth itself installs for its network.
  for (const bridge of [BRIDGE, BRIDGE6]) await removeForwardingRules(bridge);
  return found;
}

describe("CNI with the real plugins", { concurrency: false }, () => {
  let root: string;
  let confDir: string;
  let cacheDir: string;
  let testBin: string;
  let config: CniNetworkList;
  let berth: CniNetwork;
  const baseline = {} as Record<Family, string[]>;
  const servers: ChildProcess[] = [];
  let podCounter = 0;

  const attachment = (netnsPath: string, extra: Partial<CniAttachment> = {}): CniAttachment => {
    const n = podCounter++;
    return {
      containerId: `e2e${process.pid}c${n}`,
      netnsPath,
      podNamespace: "berth-e2e",
      podName: `pod-${n}`,
      podUid: `00000000-0000-0000-0000-${String(n).padStart(12, "0")}`,
      ...extra,
    };
  };

  const networkFrom = (raw: Record<string, unknown>, binDirs = [PLUGIN_DIR]) =>
    new CniNetwork(parseNetworkConfig(JSON.stringify(raw), join(confDir, "x.conflist")), {
      cacheDir,
      binDirs,
      log,
    });

  before(async () => {
    assert.equal(process.getuid?.(), 0, "the CNI end-to-end tests need root");
    assert.ok(existsSync(join(PLUGIN_DIR, "bridge")), `no CNI plugins in ${PLUGIN_DIR}`);
    const stale = await cleanLeftovers();
    if (stale.length > 0) log.warn({ stale }, "removed leftovers of an earlier run");
    for (const family of FAMILIES) baseline[family] = await podRules(family);

    root = await mkdtemp(join(tmpdir(), "berth-cni-e2e-"));
    confDir = join(root, "net.d");
    cacheDir = join(root, "cni-cache");
    testBin = join(root, "bin");
    const written = await ensureDefaultNetwork(confDir, SUBNET, { name: NETWORK, bridge: BRIDGE });
    assert.equal(written.written, true);
    const found = await findNetworkConfig(confDir);
    assert.ok(found.ok);
    config = found.network;
    berth = new CniNetwork(config, { cacheDir, log });
    // What berth does before the first pod of its own network (CniPodNetwork's prepare hook).
    const rules = forwardingRulesOf(config);
    assert.ok(rules);
    await ensureForwardingRules(rules);

    // A chained plugin that fails ADD and is happy to DEL: an ADD that breaks half-way.
    await mkdir(testBin);
    await writeFile(
      join(testBin, "berth-test-fail"),
      `#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then\n  echo '{"cniVersion":"1.0.0","code":100,"msg":"berth-test-fail refuses ADD"}'\n  exit 1\nfi\n`,
    );
    await chmod(join(testBin, "berth-test-fail"), 0o755);
  });

  after(async () => {
    for (const server of servers) server.kill("SIGKILL");
    for (const name of [...ourNetns]) await deleteNetns(name);
    // Every pod's host veth hangs off one of the test's bridges until its DEL.
    const veths: string[] = [];
    for (const bridge of [BRIDGE, BRIDGE6]) {
      if (!(await linkExists(bridge))) continue;
      const ports = await ipJson<Array<{ ifname: string }>>("link", "show", "master", bridge);
      veths.push(...ports.map((port) => `${bridge}: ${port.ifname}`));
    }
    const leftovers = [...veths, ...(await cleanLeftovers())];
    await removeUnusedSkeleton();
    if (root) await rm(root, { recursive: true, force: true });
    const now = { iptables: await podRules("iptables"), ip6tables: await podRules("ip6tables") };
    assert.deepEqual(now, baseline, "iptables as before the test");
    assert.deepEqual(leftovers, [], "every test cleaned up after itself");
  });

  test("berth's default network config is what the test runs", () => {
    assert.deepEqual(
      config.plugins.map((p) => p.type),
      ["bridge", "portmap", "bandwidth"],
    );
    assert.equal(config.cniVersion, "1.0.0");
  });

  test("ADD gives the pod an address on eth0; DEL takes everything back", async (t) => {
    const ns = await newNetns();
    const pod = attachment(ns.path);
    let started = performance.now();
    const result = await berth.add(pod);
    const addMs = performance.now() - started;
    t.diagnostic(`ADD took ${addMs.toFixed(0)} ms`);

    assert.equal(result.network, NETWORK);
    assert.equal(result.podIps.length, 1);
    const ip = result.podIps[0] ?? "";
    assert.match(ip, /^10\.99\.0\.\d+$/);
    assert.deepEqual(await addressesIn(ns.name), [`${ip}/24`]);
    assert.equal(result.ips[0]?.gateway, "10.99.0.1");
    assert.deepEqual(await reservations(NETWORK), [ip]);
    const owner = await readFile(join(HOST_LOCAL_DIR, NETWORK, ip), "utf8");
    assert.match(owner, new RegExp(pod.containerId));
    const veth = hostVeth(result, BRIDGE);
    assert.equal(await linkExists(veth), true);
    const cacheFile = cacheFilePath(cacheDir, NETWORK, pod.containerId, "eth0");
    assert.ok(existsSync(cacheFile));
    // No rule per pod: berth's per-subnet rules stand in for firewall's and ipMasq's.
    assert.deepEqual(
      (await cniRules("iptables")).filter(
        (line) => line.includes(ip) || line.includes(pod.containerId),
      ),
      [],
      "the ADD made no iptables rule for the pod",
    );
    // disableCheck in berth's config: the bandwidth plugin 1.1.1 crashes on CHECK.
    assert.deepEqual(await berth.check({ containerId: pod.containerId }), {
      checked: false,
      reason: "the network config sets disableCheck",
    });

    started = performance.now();
    const deleted = await berth.del({ containerId: pod.containerId, netnsPath: ns.path });
    t.diagnostic(`DEL took ${(performance.now() - started).toFixed(0)} ms`);
    assert.deepEqual(deleted, { errors: [], cached: true });
    assert.deepEqual(await reservations(NETWORK), []);
    assert.equal(await linkExists(veth), false, "the host veth is gone");
    assert.equal(existsSync(cacheFile), false, "the cache file is gone");
    assert.deepEqual(
      (await cniRules("iptables")).filter(
        (line) => line.includes(ip) || line.includes(pod.containerId),
      ),
      [],
      "no rule of the pod left",
    );
    await assert.rejects(
      inNetns(ns.name, "ip", "link", "show", "eth0"),
      "eth0 is gone from the pod",
    );

    // DEL again (the kubelet retries StopPodSandbox): nothing cached, nothing to do, no error.
    assert.deepEqual(await berth.del({ containerId: pod.containerId, netnsPath: ns.path }), {
      errors: [],
      cached: false,
    });
    await deleteNetns(ns.name);
  });

  test("two pods reach each other by IP through the bridge", async () => {
    const a = await newNetns();
    const b = await newNetns();
    const podA = attachment(a.path);
    const podB = attachment(b.path);
    const ipA = (await berth.add(podA)).podIps[0] ?? "";
    const ipB = (await berth.add(podB)).podIps[0] ?? "";
    assert.notEqual(ipA, ipB);
    // Docker's FORWARD policy is DROP and bridged traffic passes it (br_netfilter): this works
    // because of berth's ACCEPT rule for the subnet on the bridge.
    await inNetns(a.name, "busybox", "ping", "-c1", "-W2", ipB);
    await inNetns(b.name, "busybox", "ping", "-c1", "-W2", ipA);
    // And the gateway answers: the pod has a way off the node.
    await inNetns(a.name, "busybox", "ping", "-c1", "-W2", "10.99.0.1");
    for (const [pod, ns] of [
      [podA, a],
      [podB, b],
    ] as const) {
      assert.deepEqual(await berth.del({ containerId: pod.containerId, netnsPath: ns.path }), {
        errors: [],
        cached: true,
      });
      await deleteNetns(ns.name);
    }
    assert.deepEqual(await reservations(NETWORK), []);
  });

  test("a hostPort reaches a server in the pod, also from the node's own 127.0.0.1", async (t) => {
    const ns = await newNetns();
    const pod = attachment(ns.path, {
      capabilities: {
        portMappings: [
          { hostPort: HOST_PORT, containerPort: 8080, protocol: "tcp", hostIP: "" },
          // Only a declared container port: must not become a forward.
          { hostPort: 0, containerPort: 9090, protocol: "tcp" },
        ],
      },
    });
    await berth.add(pod);
    const server = await serveInNetns(ns.name, 8080);
    servers.push(server);
    const nat = (await cniRules("iptables")).filter((line) => line.startsWith("nat"));
    assert.ok(nat.some((line) => line.includes(`--dport ${HOST_PORT}`)));
    assert.ok(!nat.some((line) => /dport (0|9090)\b/.test(line)), "no forward for hostPort 0");

    // portmap's snat enables route_localnet on the bridge, so DNAT of 127.0.0.1 works.
    assert.equal(await fetchGreeting("127.0.0.1", HOST_PORT), "hello from the pod\n");
    assert.equal(await fetchGreeting("10.99.0.1", HOST_PORT), "hello from the pod\n");
    const primary = await primaryAddress();
    if (primary) {
      assert.equal(await fetchGreeting(primary, HOST_PORT), "hello from the pod\n");
    } else {
      t.diagnostic("no default route: the node's primary address was not tried");
    }
    assert.equal(
      (await readFile(`/proc/sys/net/ipv4/conf/${BRIDGE}/route_localnet`, "utf8")).trim(),
      "1",
    );

    assert.deepEqual((await berth.del({ containerId: pod.containerId })).errors, []);
    assert.ok(
      !(await cniRules("iptables")).some((line) => line.includes(`--dport ${HOST_PORT}`)),
      "the forward is gone",
    );
    await assert.rejects(fetchGreeting("127.0.0.1", HOST_PORT));
    server.kill("SIGKILL");
    await deleteNetns(ns.name);
  });

  test("bandwidth limits become tbf qdiscs, removed again by DEL", async () => {
    const ns = await newNetns();
    // The burst berth's sandbox code passes (as dockershim did): the largest 32-bit value.
    const burst = 2 ** 31 - 1;
    const pod = attachment(ns.path, {
      capabilities: {
        bandwidth: {
          ingressRate: 10_000_000,
          ingressBurst: burst,
          egressRate: 5_000_000,
          egressBurst: burst,
        },
      },
    });
    const result = await berth.add(pod);
    const veth = hostVeth(result, BRIDGE);
    const qdiscs = await sh("tc qdisc show");
    assert.match(qdiscs, new RegExp(`qdisc tbf \\S+ dev ${veth} root .*rate 10Mbit`));
    const ifb = /qdisc tbf \S+ dev (bwp\S+) root .*rate 5Mbit/.exec(qdiscs)?.[1];
    assert.ok(ifb, "egress shaping on an ifb device");
    assert.deepEqual((await berth.del({ containerId: pod.containerId })).errors, []);
    assert.equal(await linkExists(ifb), false, "the ifb device is gone");
    await deleteNetns(ns.name);
  });

  test("DEL after the netns is gone still releases the address", async (t) => {
    const ns = await newNetns();
    const pod = attachment(ns.path);
    const result = await berth.add(pod);
    const veth = hostVeth(result, BRIDGE);
    await deleteNetns(ns.name);
    assert.equal(existsSync(ns.path), false);

    const deleted = await berth.del({ containerId: pod.containerId, netnsPath: ns.path });
    assert.deepEqual(deleted, { errors: [], cached: true });
    assert.deepEqual(await reservations(NETWORK), [], "host-local released the address");
    assert.equal(await linkExists(veth), false, "the kernel took the veth with the netns");
    assert.equal(existsSync(cacheFilePath(cacheDir, NETWORK, pod.containerId, "eth0")), false);
    const left = (await cniRules("iptables")).filter((line) =>
      line.includes(`id: \\"${pod.containerId}\\"`),
    );
    // The bridge plugin finds the addresses to un-masquerade inside the netns; with the netns
    // gone (CNI_NETNS empty) it cannot, in 1.1.1 as upstream still does: its per-pod NAT chain
    // stays. Runtimes avoid it by keeping the netns until DEL has run.
    if (left.length > 0) {
      t.diagnostic(`bridge left its ipMasq rules for the pod: ${left.length} lines (known)`);
      assert.ok(left.every((line) => line.startsWith("nat ")));
      await removeOurRules();
    }
  });

  test("DEL finishes teardown when a plugin's DEL fails, and reports it", async () => {
    const ns = await newNetns();
    const pod = attachment(ns.path, {
      capabilities: {
        portMappings: [{ hostPort: HOST_PORT + 1, containerPort: 80, protocol: "tcp" }],
      },
    });
    // berth's own network keeps no per-pod NAT chain; with the bridge plugin's ipMasq (a user's
    // network, or one an older berth wrote) there is one to lose.
    const raw = defaultNetworkConfig(SUBNET, { name: NETWORK, bridge: BRIDGE });
    (raw.plugins as Array<Record<string, unknown>>)[0] = {
      ...(raw.plugins as Array<Record<string, unknown>>)[0],
      ipMasq: true,
    };
    const masquerading = networkFrom(raw);
    const result = await masquerading.add(pod);
    const ip = result.podIps[0] ?? "";
    const veth = hostVeth(result, BRIDGE);
    // What an ADD interrupted before the bridge plugin set up masquerading leaves: no NAT
    // chain. The bridge plugin's DEL then fails on it (iptables-nft: "Chain ... does not exist").
    const masq = (await cniRules("iptables")).filter(
      (line) =>
        line.startsWith("nat -A POSTROUTING") && line.includes(`id: \\"${pod.containerId}\\"`),
    );
    assert.equal(masq.length, 1);
    await deleteRule("iptables", masq[0] ?? "");
    await deleteChain("iptables", "nat", / -j (\S+)/.exec(masq[0] ?? "")?.[1] ?? "");

    const deleted = await masquerading.del({ containerId: pod.containerId, netnsPath: ns.path });
    assert.equal(deleted.cached, true);
    assert.equal(deleted.errors.length, 1, deleted.errors.join("\n"));
    assert.match(
      deleted.errors[0] ?? "",
      /^CNI plugin bridge failed DEL on network berth-test: .*does not exist/,
    );
    // Everything else was still torn down.
    assert.deepEqual(await reservations(NETWORK), []);
    assert.equal(await linkExists(veth), false);
    assert.equal(existsSync(cacheFilePath(cacheDir, NETWORK, pod.containerId, "eth0")), false);
    assert.deepEqual(
      (await cniRules("iptables")).filter(
        (line) => line.includes(`${ip}/32`) || line.includes(`dport ${HOST_PORT + 1}`),
      ),
      [],
      "portmap's rules are gone",
    );
    await deleteNetns(ns.name);
  });

  test("CHECK passes on a healthy attachment and fails on a broken one", async () => {
    // berth's list without bandwidth and with CHECK enabled. Debian's plugins (1.1.1) fail
    // CHECK in two ways berth's own config avoids with disableCheck: bandwidth crashes for a
    // pod without limits, and portmap looks for IPv6 chains it never made for an IPv4 pod
    // with port mappings (see the next test).
    const raw = defaultNetworkConfig(SUBNET, { name: NETWORK, bridge: BRIDGE });
    raw.disableCheck = false;
    raw.plugins = (raw.plugins as Array<{ type: string }>).filter((p) => p.type !== "bandwidth");
    const checked = networkFrom(raw);
    const ns = await newNetns();
    const pod = attachment(ns.path);
    const result = await checked.add(pod);
    assert.deepEqual(await checked.check({ containerId: pod.containerId, netnsPath: ns.path }), {
      checked: true,
    });
    // The pod loses its default route. (Not its address: the bridge plugin's DEL reads the
    // addresses inside the netns to find the NAT rules to remove.)
    await inNetns(ns.name, "ip", "route", "del", "default");
    await assert.rejects(
      checked.check({ containerId: pod.containerId, netnsPath: ns.path }),
      /CNI plugin bridge failed CHECK on network berth-test/,
    );
    assert.deepEqual(
      (await checked.del({ containerId: pod.containerId, netnsPath: ns.path })).errors,
      [],
    );
    assert.deepEqual(await reservations(NETWORK), []);
    assert.equal(await linkExists(hostVeth(result, BRIDGE)), false);
    await deleteNetns(ns.name);
  });

  test("Debian's portmap fails CHECK for an IPv4 pod with a host port: a chained failure, not a broken pod", async (t) => {
    const raw = defaultNetworkConfig(SUBNET, { name: NETWORK, bridge: BRIDGE });
    raw.disableCheck = false;
    raw.plugins = (raw.plugins as Array<{ type: string }>).filter((p) => p.type !== "bandwidth");
    const checked = networkFrom(raw);
    const ns = await newNetns();
    const pod = attachment(ns.path, {
      capabilities: {
        portMappings: [{ hostPort: HOST_PORT + 2, containerPort: 80, protocol: "tcp" }],
      },
    });
    await checked.add(pod);
    try {
      const outcome = await checked.check({ containerId: pod.containerId, netnsPath: ns.path });
      assert.equal(outcome.checked, true);
      const failures = outcome.checked ? (outcome.chainedFailures ?? []) : [];
      if (failures.length === 0) {
        t.diagnostic("portmap passed CHECK: these plugins are newer than Debian's 1.1.1");
      } else {
        assert.equal(failures.length, 1);
        assert.match(failures[0] ?? "", /^CNI plugin portmap failed CHECK .*ipv6/);
      }
    } finally {
      assert.deepEqual(
        (await checked.del({ containerId: pod.containerId, netnsPath: ns.path })).errors,
        [],
      );
      await deleteNetns(ns.name);
    }
  });

  test("an ADD failing half-way is rolled back: no address, no veth, no cache", async () => {
    const raw = defaultNetworkConfig(SUBNET, { name: NETWORK, bridge: BRIDGE });
    raw.plugins = [(raw.plugins as unknown[])[0], { type: "berth-test-fail" }];
    const failing = networkFrom(raw, [testBin, PLUGIN_DIR]);
    const ns = await newNetns();
    const pod = attachment(ns.path);
    await assert.rejects(failing.add(pod), {
      message:
        "CNI plugin berth-test-fail failed ADD on network berth-test: berth-test-fail refuses ADD (code 100)",
    });
    assert.deepEqual(await reservations(NETWORK), []);
    await assert.rejects(inNetns(ns.name, "ip", "link", "show", "eth0"), "no eth0 in the pod");
    assert.equal(existsSync(cacheFilePath(cacheDir, NETWORK, pod.containerId, "eth0")), false);
    assert.deepEqual(
      (await cniRules("iptables")).filter((line) => line.includes(pod.containerId)),
      [],
      "no masquerade chain left",
    );
    await deleteNetns(ns.name);
  });

  test("dual stack: an IPv4 and an IPv6 address, IPv4 first", async () => {
    const dual = networkFrom(defaultNetworkConfig(SUBNETS6, { name: NETWORK6, bridge: BRIDGE6 }));
    const ns = await newNetns();
    const pod = attachment(ns.path);
    const result = await dual.add(pod);
    assert.equal(result.podIps.length, 2);
    assert.match(result.podIps[0] ?? "", /^10\.99\.6\.\d+$/);
    assert.match(result.podIps[1] ?? "", /^fd99:99::[0-9a-f]+$/);
    assert.deepEqual((await addressesIn(ns.name)).sort(), [
      `${result.podIps[0]}/24`,
      `${result.podIps[1]}/64`,
    ]);
    assert.deepEqual(
      (await dual.del({ containerId: pod.containerId, netnsPath: ns.path })).errors,
      [],
    );
    assert.deepEqual(await reservations(NETWORK6), []);
    await deleteNetns(ns.name);
  });

  for (const version of ["0.3.0", "0.3.1", "0.4.0"]) {
    test(`an older spec version (${version}) works the same`, async () => {
      const raw = defaultNetworkConfig(SUBNET, { name: NETWORK, bridge: BRIDGE });
      raw.cniVersion = version;
      // Debian's firewall plugin speaks 0.4.0 and 1.0.0 only (see the next test).
      raw.plugins = (raw.plugins as Array<{ type: string }>).filter((p) => p.type !== "firewall");
      const older = networkFrom(raw);
      const ns = await newNetns();
      const pod = attachment(ns.path, {
        capabilities: {
          portMappings: [{ hostPort: HOST_PORT + 3, containerPort: 80, protocol: "tcp" }],
        },
      });
      const result = await older.add(pod);
      assert.equal(result.cniVersion, version);
      assert.equal(result.result.cniVersion, version);
      assert.deepEqual(await addressesIn(ns.name), [`${result.podIps[0]}/24`]);
      assert.deepEqual(
        (await older.del({ containerId: pod.containerId, netnsPath: ns.path })).errors,
        [],
      );
      assert.deepEqual(await reservations(NETWORK), []);
      assert.deepEqual(
        (await podRules("iptables")).filter((line) => line.includes(pod.containerId)),
        [],
      );
      await deleteNetns(ns.name);
    });
  }

  test("a config a plugin cannot speak fails before anything changes, and is not ready", async () => {
    const raw = defaultNetworkConfig(SUBNET, { name: NETWORK, bridge: BRIDGE });
    raw.cniVersion = "0.3.1";
    raw.plugins = [...(raw.plugins as unknown[]), { type: "firewall" }];
    const refused = networkFrom(raw);
    const ns = await newNetns();
    const pod = attachment(ns.path);
    await assert.rejects(refused.add(pod), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, "FailedPrecondition");
      assert.match(
        err.message,
        /^CNI plugin firewall supports CNI versions 0\.4\.0, 1\.0\.0, not 0\.3\.1 that network berth-test/,
      );
      return true;
    });
    assert.deepEqual(await reservations(NETWORK), []);
    await assert.rejects(inNetns(ns.name, "ip", "link", "show", "eth0"), "no eth0 in the pod");
    assert.equal(existsSync(cacheFilePath(cacheDir, NETWORK, pod.containerId, "eth0")), false);
    const status = await refused.status();
    assert.equal(status.ready, false);
    assert.match(status.ready ? "" : status.reason, /firewall supports CNI versions/);
    await deleteNetns(ns.name);
  });

  test("pods attach and detach in parallel", async (t) => {
    const count = 6;
    const namespaces = await Promise.all(Array.from({ length: count }, () => newNetns()));
    const pods = namespaces.map((ns) => attachment(ns.path));
    let started = performance.now();
    const results = await Promise.all(pods.map((pod) => berth.add(pod)));
    t.diagnostic(`${count} parallel ADDs took ${(performance.now() - started).toFixed(0)} ms`);
    const ips = results.map((r) => r.podIps[0]);
    assert.equal(new Set(ips).size, count, "distinct addresses");
    assert.equal((await reservations(NETWORK)).length, count);
    started = performance.now();
    const deleted = await Promise.all(
      pods.map((pod, i) =>
        berth.del({ containerId: pod.containerId, netnsPath: namespaces[i]?.path ?? "" }),
      ),
    );
    t.diagnostic(`${count} parallel DELs took ${(performance.now() - started).toFixed(0)} ms`);
    assert.deepEqual(
      deleted.flatMap((d) => d.errors),
      [],
    );
    assert.deepEqual(await reservations(NETWORK), []);
    for (const ns of namespaces) await deleteNetns(ns.name);
  });

  test("STATUS: ready (the plugins speak up to 1.0.0, so no STATUS command is run)", async () => {
    assert.deepEqual(await berth.status(), { ready: true });
    const missing = networkFrom({
      cniVersion: "1.0.0",
      name: NETWORK,
      plugins: [{ type: "nonexistent" }],
    });
    const status = await missing.status();
    assert.equal(status.ready, false);
    const versions = JSON.parse(
      await sh(`echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION ${PLUGIN_DIR}/bridge`),
    ) as { supportedVersions: string[] };
    assert.ok(!versions.supportedVersions.includes("1.1.0"), "Debian's plugins know no 1.1.0");
  });

  test("after a restart, DEL uses the cached ADD even though the conf dir changed", async () => {
    const ns = await newNetns();
    const pod = attachment(ns.path);
    const added = await berth.add(pod);
    // berth restarts and finds another config in the conf dir.
    const other = networkFrom({
      cniVersion: "1.0.0",
      name: NETWORK,
      plugins: [{ type: "loopback" }],
    });
    assert.deepEqual((await other.cachedResult(pod.containerId))?.podIps, added.podIps);
    assert.deepEqual(await other.del({ containerId: pod.containerId, netnsPath: ns.path }), {
      errors: [],
      cached: true,
    });
    assert.deepEqual(await reservations(NETWORK), []);
    assert.equal(await linkExists(hostVeth(added, BRIDGE)), false);
    await deleteNetns(ns.name);
  });
});
