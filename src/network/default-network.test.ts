import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseCidr } from "./cidr.ts";
import { findNetworkConfig, parseNetworkConfig } from "./cni-config.ts";
import {
  BERTH_NETWORK_FILE,
  berthNetworkCidrDiffers,
  defaultNetworkConfig,
  defaultNetworkJson,
  ensureDefaultNetwork,
  isBerthNetwork,
  networkAddress,
  podSubnets,
  prepareBerthNetwork,
  writeBerthNetwork,
} from "./default-network.ts";
import type { IptablesRunner } from "./forwarding-rules.ts";

type Plugin = { type: string; [key: string]: unknown };
const pluginsOf = (config: Record<string, unknown>) => config.plugins as Plugin[];

describe("defaultNetworkConfig", () => {
  test("berth's network for the default pod CIDR", () => {
    assert.deepEqual(defaultNetworkConfig(undefined), {
      cniVersion: "1.0.0",
      name: "berth",
      disableCheck: true,
      plugins: [
        {
          type: "bridge",
          bridge: "berth0",
          isGateway: true,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: "10.88.0.0/16" }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true }, snat: true },
        { type: "bandwidth", capabilities: { bandwidth: true } },
      ],
    });
    assert.deepEqual(defaultNetworkConfig(""), defaultNetworkConfig(undefined));
  });

  test("dual stack: one range set and one default route per family, IPv4 first", () => {
    const config = defaultNetworkConfig("fd00:10:244::/64, 10.244.1.0/24");
    const ipam = pluginsOf(config)[0]?.ipam;
    assert.deepEqual(ipam, {
      type: "host-local",
      ranges: [[{ subnet: "10.244.1.0/24" }], [{ subnet: "fd00:10:244::/64" }]],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0" }],
    });
  });

  test("IPv6 only", () => {
    const ipam = pluginsOf(defaultNetworkConfig("fd00::/64"))[0]?.ipam as Record<string, unknown>;
    assert.deepEqual(ipam.ranges, [[{ subnet: "fd00::/64" }]]);
    assert.deepEqual(ipam.routes, [{ dst: "::/0" }]);
  });

  test("two CIDRs of one family share a range set: one address per family", () => {
    const ipam = pluginsOf(defaultNetworkConfig("10.1.0.0/24,10.2.0.0/24"))[0]?.ipam as {
      ranges: unknown;
    };
    assert.deepEqual(ipam.ranges, [[{ subnet: "10.1.0.0/24" }, { subnet: "10.2.0.0/24" }]]);
  });

  test("host bits are cleared: host-local refuses them", () => {
    assert.deepEqual(
      podSubnets("10.244.1.7/24,fd00:1::5/64").map((s) => `${s.address}/${s.prefix}`),
      ["10.244.1.0/24", "fd00:1::/64"],
    );
  });

  test("a test may rename the network and the bridge", () => {
    const config = defaultNetworkConfig("10.99.0.0/24", {
      name: "berth-test",
      bridge: "berthtest0",
    });
    assert.equal(config.name, "berth-test");
    assert.equal(pluginsOf(config)[0]?.bridge, "berthtest0");
  });

  test("a malformed CIDR is an invalid argument", () => {
    assert.throws(() => defaultNetworkConfig("10.88.0.0"), /"10.88.0.0" is not a CIDR/);
    assert.throws(() => defaultNetworkConfig("10.88.0.0/16,bogus/3"), /"bogus\/3"/);
  });

  test("the JSON parses as a valid config list", () => {
    const network = parseNetworkConfig(defaultNetworkJson("10.88.0.0/16"), "/x/10-berth.conflist");
    assert.deepEqual(
      network.plugins.map((p) => p.type),
      ["bridge", "portmap", "bandwidth"],
    );
    assert.equal(network.disableCheck, true);
  });
});

describe("networkAddress", () => {
  const cases: Array<[string, string]> = [
    ["10.88.0.0/16", "10.88.0.0"],
    ["10.88.7.9/16", "10.88.0.0"],
    ["10.88.7.9/0", "0.0.0.0"],
    ["10.88.7.9/32", "10.88.7.9"],
    ["192.168.255.255/20", "192.168.240.0"],
    ["fd00:10:244:1::17/64", "fd00:10:244:1::"],
    ["FD00:0:0:0:0:0:0:1/48", "fd00::"],
    ["2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1"],
    ["2001:db8::1/32", "2001:db8::"],
    ["::ffff:10.1.2.3/120", "::ffff:a01:200"],
    ["::/0", "::"],
    ["fe80::1:2:3:4/127", "fe80::1:2:3:4"],
  ];
  for (const [cidr, want] of cases) {
    test(`${cidr} → ${want}`, () => {
      const parsed = parseCidr(cidr);
      assert.ok(parsed);
      assert.equal(networkAddress(parsed), want);
    });
  }
});

describe("writing berth's network", () => {
  let root: string;
  let n = 0;
  const freshDir = async () => {
    const dir = join(root, `conf-${n++}`);
    await mkdir(dir);
    return dir;
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-default-net-test-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("written into an empty directory, world-readable, and then found", async () => {
    const dir = await freshDir();
    const outcome = await ensureDefaultNetwork(dir, "10.77.0.0/16");
    assert.deepEqual(outcome, { written: true, file: join(dir, BERTH_NETWORK_FILE) });
    assert.equal((await stat(outcome.file)).mode & 0o777, 0o644);
    assert.equal(await readFile(outcome.file, "utf8"), defaultNetworkJson("10.77.0.0/16"));
    const found = await findNetworkConfig(dir);
    assert.ok(found.ok);
    assert.equal(found.network.name, "berth");
    assert.deepEqual(await readdir(dir), [BERTH_NETWORK_FILE], "no temp files left");
  });

  test("the directory is created when missing", async () => {
    const dir = join(root, "missing", "net.d");
    assert.equal((await ensureDefaultNetwork(dir, undefined)).written, true);
    assert.equal((await stat(dir)).mode & 0o777, 0o755);
  });

  test("never written beside a user's valid config", async () => {
    const dir = await freshDir();
    const user = JSON.stringify({ cniVersion: "0.4.0", name: "flannel", type: "flannel" });
    await writeFile(join(dir, "50-flannel.conf"), user);
    assert.deepEqual(await ensureDefaultNetwork(dir, undefined), {
      written: false,
      network: "flannel",
      file: join(dir, "50-flannel.conf"),
    });
    assert.deepEqual(await readdir(dir), ["50-flannel.conf"]);
  });

  test("written when only invalid configs are there", async () => {
    const dir = await freshDir();
    await writeFile(join(dir, "05-broken.conflist"), "{");
    assert.equal((await ensureDefaultNetwork(dir, undefined)).written, true);
    const found = await findNetworkConfig(dir);
    assert.ok(found.ok);
    assert.equal(found.network.name, "berth");
  });

  test("a CIDR change is noticed on berth's own file and rewritten", async () => {
    const dir = await freshDir();
    assert.equal(await berthNetworkCidrDiffers(dir, "10.1.0.0/16"), false, "no file yet");
    await ensureDefaultNetwork(dir, "10.1.0.0/16");
    assert.equal(await berthNetworkCidrDiffers(dir, "10.1.0.0/16"), false);
    assert.equal(await berthNetworkCidrDiffers(dir, "10.1.7.7/16"), false, "same subnet");
    assert.equal(await berthNetworkCidrDiffers(dir, "10.2.0.0/16"), true);
    assert.equal(await berthNetworkCidrDiffers(dir, "10.1.0.0/16,fd00::/64"), true);
    await writeBerthNetwork(dir, "10.2.0.0/16");
    assert.equal(await berthNetworkCidrDiffers(dir, "10.2.0.0/16"), false);
    assert.equal(
      await readFile(join(dir, BERTH_NETWORK_FILE), "utf8"),
      defaultNetworkJson("10.2.0.0/16"),
    );
  });

  test("berth's file from an older berth becomes today's, keeping its subnets", async () => {
    const dir = await freshDir();
    const old = defaultNetworkConfig("10.3.0.0/24");
    const plugins = pluginsOf(old);
    (plugins[0] as Plugin).ipMasq = true;
    plugins.splice(2, 0, { type: "firewall" });
    await writeFile(join(dir, BERTH_NETWORK_FILE), JSON.stringify(old));
    assert.deepEqual(await ensureDefaultNetwork(dir, "10.9.0.0/16"), {
      written: true,
      file: join(dir, BERTH_NETWORK_FILE),
    });
    assert.equal(
      await readFile(join(dir, BERTH_NETWORK_FILE), "utf8"),
      defaultNetworkJson("10.3.0.0/24"),
    );
    const again = await ensureDefaultNetwork(dir, "10.9.0.0/16");
    assert.equal(again.written, false, "today's file is left as it is");
  });

  test("a user's file of the same name is never reported nor replaced", async () => {
    const dir = await freshDir();
    const user = JSON.stringify({
      cniVersion: "1.0.0",
      name: "mine",
      plugins: [
        { type: "bridge", ipam: { type: "host-local", ranges: [[{ subnet: "10.5.0.0/16" }]] } },
      ],
    });
    await writeFile(join(dir, BERTH_NETWORK_FILE), user);
    assert.equal(await berthNetworkCidrDiffers(dir, "10.88.0.0/16"), false);
    await assert.rejects(writeBerthNetwork(dir, "10.88.0.0/16"), /not berth's network config/);
    assert.equal(await readFile(join(dir, BERTH_NETWORK_FILE), "utf8"), user);
    await writeFile(join(dir, BERTH_NETWORK_FILE), "{ not json");
    await assert.rejects(writeBerthNetwork(dir, "10.88.0.0/16"), /not berth's/);
  });
});

describe("prepareBerthNetwork", () => {
  const recorder = () => {
    const calls: string[] = [];
    const run: IptablesRunner = async (command, args) => {
      calls.push(`${command} ${args.join(" ")}`);
      // Every jump is missing: -C fails, as iptables does for an absent rule.
      if (args.includes("-C") || args.includes("-S")) throw new Error("Bad rule");
      return "";
    };
    return { calls, run };
  };

  test("installs the per-subnet rules of berth's own network, v4 and v6", async () => {
    const network = parseNetworkConfig(
      defaultNetworkJson("10.88.0.0/16,fd00:88::/64"),
      `/etc/cni/net.d/${BERTH_NETWORK_FILE}`,
    );
    assert.equal(isBerthNetwork(network), true);
    const { calls, run } = recorder();
    await prepareBerthNetwork(network, undefined, run);
    assert.deepEqual(
      calls.filter((call) => !call.includes("-C ") && !call.includes("-S ")),
      [
        "iptables-restore -w --noflush",
        "iptables -w -t filter -I FORWARD 1 -j BERTH-FWD-berth0",
        "iptables -w -t nat -A POSTROUTING -j BERTH-MASQ-berth0",
        "ip6tables-restore -w --noflush",
        "ip6tables -w -t filter -I FORWARD 1 -j BERTH-FWD-berth0",
        "ip6tables -w -t nat -A POSTROUTING -j BERTH-MASQ-berth0",
      ],
    );
  });

  test("leaves any other network alone", async () => {
    const { calls, run } = recorder();
    const renamed = parseNetworkConfig(
      defaultNetworkJson("10.88.0.0/16", { name: "users" }),
      `/etc/cni/net.d/${BERTH_NETWORK_FILE}`,
    );
    await prepareBerthNetwork(renamed, undefined, run);
    const otherFile = parseNetworkConfig(defaultNetworkJson(undefined), "/d/10-mine.conflist");
    await prepareBerthNetwork(otherFile, undefined, run);
    assert.deepEqual(calls, []);
  });
});
