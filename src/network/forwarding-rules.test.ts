import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseCidr } from "./cidr.ts";
import { parseNetworkConfig } from "./cni-config.ts";
import { defaultNetworkJson } from "./default-network.ts";
import {
  chainNames,
  ensureForwardingRules,
  type ForwardingRules,
  forwardingRulesOf,
  type IptablesRunner,
  removeForwardingRules,
  restoreInput,
} from "./forwarding-rules.ts";

const cidr = (text: string) => {
  const parsed = parseCidr(text);
  assert.ok(parsed);
  return parsed;
};

describe("forwardingRulesOf", () => {
  test("the bridge and every host-local subnet, IPv4 first", () => {
    const network = parseNetworkConfig(
      defaultNetworkJson("fd00:1::/64,10.1.0.0/24,10.2.0.0/24", { bridge: "br7" }),
      "/d/99-berth.conflist",
    );
    const rules = forwardingRulesOf(network);
    assert.equal(rules?.bridge, "br7");
    assert.deepEqual(
      rules?.subnets.map((s) => `${s.address}/${s.prefix}`),
      ["10.1.0.0/24", "10.2.0.0/24", "fd00:1::/64"],
    );
  });

  test("nothing without a bridge plugin or subnets", () => {
    const noBridge = parseNetworkConfig(
      JSON.stringify({ cniVersion: "1.0.0", name: "x", plugins: [{ type: "ptp" }] }),
      "/d/x.conflist",
    );
    assert.equal(forwardingRulesOf(noBridge), undefined);
    const noRanges = parseNetworkConfig(
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "x",
        plugins: [{ type: "bridge", bridge: "b0", ipam: { type: "dhcp" } }],
      }),
      "/d/x.conflist",
    );
    assert.equal(forwardingRulesOf(noRanges), undefined);
  });
});

describe("restoreInput", () => {
  const rules: ForwardingRules = {
    bridge: "berth0",
    subnets: [cidr("10.88.0.0/16"), cidr("fd00:88::/64")],
  };

  test("IPv4: accept from the bridge's pods, replies to them, masquerade off the subnet", () => {
    const comment = '-m comment --comment "berth: pods on berth0"';
    assert.equal(
      restoreInput(rules, 4),
      [
        "*filter",
        ":BERTH-FWD-berth0 - [0:0]",
        `-A BERTH-FWD-berth0 -s 10.88.0.0/16 -i berth0 ${comment} -j ACCEPT`,
        `-A BERTH-FWD-berth0 -d 10.88.0.0/16 -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED ${comment} -j ACCEPT`,
        "COMMIT",
        "*nat",
        ":BERTH-MASQ-berth0 - [0:0]",
        `-A BERTH-MASQ-berth0 -s 10.88.0.0/16 -d 10.88.0.0/16 ${comment} -j RETURN`,
        `-A BERTH-MASQ-berth0 -s 10.88.0.0/16 ! -d 224.0.0.0/4 ${comment} -j MASQUERADE`,
        "COMMIT",
        "",
      ].join("\n"),
    );
  });

  test("IPv6 takes only the IPv6 subnets and its multicast range", () => {
    const text = restoreInput(rules, 6);
    assert.doesNotMatch(text, /10\.88/);
    assert.match(text, /-s fd00:88::\/64 ! -d ff00::\/8 .* -j MASQUERADE/);
  });

  test("chain names fit iptables' 28 characters for the longest bridge name", () => {
    const { forward, masquerade } = chainNames("a".repeat(15));
    assert.ok(forward.length <= 28 && masquerade.length <= 28);
  });
});

describe("ensureForwardingRules", () => {
  test("adds only the jumps that are missing, and skips a family without subnets", async () => {
    const calls: string[] = [];
    const present = new Set(["-t filter -C FORWARD -j BERTH-FWD-b0"]);
    const run: IptablesRunner = async (command, args, input) => {
      calls.push(`${command} ${args.join(" ")}${input === undefined ? "" : " <input>"}`);
      const rule = args.slice(1).join(" ");
      if (args.includes("-C") && !present.has(rule)) throw new Error("Bad rule");
      if (args.includes("-S")) throw new Error("No chain/target/match by that name");
      return "";
    };
    await ensureForwardingRules({ bridge: "b0", subnets: [cidr("10.5.0.0/24")] }, run);
    assert.deepEqual(calls, [
      "iptables -w -t filter -S BERTH-FWD-b0",
      "iptables-restore -w --noflush <input>",
      "iptables -w -t filter -C FORWARD -j BERTH-FWD-b0",
      "iptables -w -t nat -C POSTROUTING -j BERTH-MASQ-b0",
      "iptables -w -t nat -A POSTROUTING -j BERTH-MASQ-b0",
    ]);
  });

  test("a failing iptables-restore fails the call", async () => {
    const run: IptablesRunner = async (_command, args) => {
      if (args.includes("-S")) return "";
      throw new Error("iptables-restore: not found");
    };
    await assert.rejects(
      ensureForwardingRules({ bridge: "b0", subnets: [cidr("10.5.0.0/24")] }, run),
      /not found/,
    );
  });
});

describe("a pod CIDR change", () => {
  test("keeps the subnets the chain already accepts, for the pods still on them", async () => {
    const inputs: string[] = [];
    const run: IptablesRunner = async (_command, args, input) => {
      if (input !== undefined) inputs.push(input);
      if (args.includes("-S")) {
        return [
          "-N BERTH-FWD-b0",
          '-A BERTH-FWD-b0 -s 10.1.0.0/24 -i b0 -m comment --comment "berth: pods on b0" -j ACCEPT',
          '-A BERTH-FWD-b0 -d 10.1.0.0/24 -o b0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "berth: pods on b0" -j ACCEPT',
          '-A BERTH-FWD-b0 -s 10.2.0.0/24 -i b0 -m comment --comment "berth: pods on b0" -j ACCEPT',
          "",
        ].join("\n");
      }
      return "";
    };
    await ensureForwardingRules({ bridge: "b0", subnets: [cidr("10.2.0.0/24")] }, run);
    assert.equal(inputs.length, 1);
    const masquerading = (inputs[0] ?? "")
      .split("\n")
      .filter((line) => line.includes("MASQUERADE"))
      .map((line) => / -s (\S+) /.exec(line)?.[1]);
    assert.deepEqual(
      masquerading,
      ["10.2.0.0/24", "10.1.0.0/24"],
      "the new subnet first, the old kept",
    );
  });
});

describe("removeForwardingRules", () => {
  test("deletes every jump, then flushes and deletes both chains, both families", async () => {
    const calls: string[] = [];
    let jumpsLeft = 2;
    const run: IptablesRunner = async (command, args) => {
      calls.push(`${command} ${args.join(" ")}`);
      if (args.includes("-D") && (command !== "iptables" || args[2] !== "filter" || !jumpsLeft--))
        throw new Error("Bad rule");
      return "";
    };
    await removeForwardingRules("b0", run);
    assert.equal(
      calls.filter((call) => call === "iptables -w -t filter -D FORWARD -j BERTH-FWD-b0").length,
      3,
      "deleted while present (two), then the failing try",
    );
    for (const command of ["iptables", "ip6tables"]) {
      for (const chain of ["-t filter -F BERTH-FWD-b0", "-t nat -X BERTH-MASQ-b0"]) {
        assert.ok(calls.includes(`${command} -w ${chain}`), `${command} ${chain}`);
      }
    }
  });
});
