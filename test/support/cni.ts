import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The tests' own pod network: a bridge and subnet away from berth's defaults. */
export const TEST_NETWORK = "berth-e2e";
export const TEST_BRIDGE = "berthe2e0";
export const TEST_POD_CIDR = "10.77.0.0/24";
export const TEST_GATEWAY = "10.77.0.1";

export function writeTestNetwork(dir: string): void {
  writeFileSync(
    join(dir, "10-berth-e2e.conflist"),
    JSON.stringify({
      cniVersion: "1.0.0",
      name: TEST_NETWORK,
      plugins: [
        {
          type: "bridge",
          bridge: TEST_BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: TEST_POD_CIDR }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true }, snat: true },
        // Docker sets the FORWARD policy to DROP: without this, pods cannot reach each other.
        { type: "firewall" },
      ],
    }),
  );
}

/** IPs host-local holds for the test network. */
export function reservations(): string[] {
  const dir = `/var/lib/cni/networks/${TEST_NETWORK}`;
  return existsSync(dir)
    ? readdirSync(dir).filter((name) => /^[0-9a-f.:]+$/.test(name) && name.includes("."))
    : [];
}

/** veth interfaces attached to the test bridge. */
export function bridgePorts(): string[] {
  try {
    const links = JSON.parse(
      execFileSync("ip", ["-j", "link", "show", "master", TEST_BRIDGE], { encoding: "utf8" }),
    ) as Array<{ ifname: string }>;
    return links.map((link) => link.ifname);
  } catch {
    return [];
  }
}

/** NAT rules the bridge plugin made for pods of the test network (per-pod chains). */
export function podNatRules(): number {
  const rules = execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" });
  return rules.split("\n").filter((line) => line.includes(`name: \\"${TEST_NETWORK}\\"`)).length;
}
