import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseErrorOutput, podIpsFromResult } from "./cni-result.ts";

// What Debian's bridge plugin (1.1.1) answers, per spec version.
const bridge100 = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "berth0", mac: "5e:01:d6:e6:eb:17" },
    { name: "veth1ab03bdd", mac: "b2:8a:44:e4:3c:3a" },
    { name: "eth0", mac: "e2:98:23:33:02:71", sandbox: "/var/run/netns/a" },
  ],
  ips: [{ interface: 2, address: "10.88.0.2/16", gateway: "10.88.0.1" }],
  routes: [{ dst: "0.0.0.0/0" }],
  dns: {},
};

const bridge031 = {
  cniVersion: "0.3.1",
  interfaces: bridge100.interfaces,
  ips: [{ version: "4", interface: 2, address: "10.88.0.2/16", gateway: "10.88.0.1" }],
};

describe("podIpsFromResult", () => {
  test("1.0.0 result", () => {
    assert.deepEqual(podIpsFromResult(bridge100, "eth0"), [
      { address: "10.88.0.2", prefixLength: 16, family: 4, gateway: "10.88.0.1" },
    ]);
  });

  test("0.3.x/0.4.0 result with the version field", () => {
    assert.deepEqual(podIpsFromResult(bridge031, "eth0"), podIpsFromResult(bridge100, "eth0"));
    assert.deepEqual(podIpsFromResult({ ...bridge031, cniVersion: "0.4.0" }), [
      { address: "10.88.0.2", prefixLength: 16, family: 4, gateway: "10.88.0.1" },
    ]);
  });

  test("dual stack: IPv4 first whatever the result order", () => {
    const result = {
      cniVersion: "1.0.0",
      interfaces: bridge100.interfaces,
      ips: [
        { interface: 2, address: "fd00:88::2/64", gateway: "fd00:88::1" },
        { interface: 2, address: "10.88.0.2/16" },
      ],
    };
    assert.deepEqual(
      podIpsFromResult(result).map((ip) => [ip.address, ip.family, ip.prefixLength]),
      [
        ["10.88.0.2", 4, 16],
        ["fd00:88::2", 6, 64],
      ],
    );
  });

  test("addresses on host-side interfaces are not the pod's", () => {
    const result = {
      ...bridge100,
      ips: [
        { interface: 0, address: "10.88.0.1/16" },
        { interface: 2, address: "10.88.0.5/16" },
      ],
    };
    assert.deepEqual(
      podIpsFromResult(result).map((ip) => ip.address),
      ["10.88.0.5"],
    );
  });

  test("IPAM-style results without interfaces or indexes are taken as they are", () => {
    const result = { cniVersion: "0.4.0", ips: [{ version: "4", address: "192.168.1.7/24" }] };
    assert.deepEqual(
      podIpsFromResult(result).map((ip) => ip.address),
      ["192.168.1.7"],
    );
  });

  test("with two sandbox interfaces, those of ifName win", () => {
    const result = {
      cniVersion: "1.0.0",
      interfaces: [
        { name: "net1", sandbox: "/ns" },
        { name: "eth0", sandbox: "/ns" },
      ],
      ips: [
        { interface: 0, address: "172.16.0.2/24" },
        { interface: 1, address: "10.88.0.9/16" },
      ],
    };
    assert.deepEqual(
      podIpsFromResult(result, "eth0").map((ip) => ip.address),
      ["10.88.0.9"],
    );
    assert.deepEqual(
      podIpsFromResult(result, "eth9").map((ip) => ip.address),
      ["172.16.0.2", "10.88.0.9"],
    );
  });

  test("duplicates, malformed entries and bad gateways are dropped", () => {
    const result = {
      cniVersion: "1.0.0",
      ips: [
        { address: "10.0.0.2/24", gateway: "nonsense" },
        { address: "10.0.0.2/24" },
        { address: "10.0.0.3/33" },
        { address: "not-an-ip/24" },
        { address: 7 },
        null,
        "10.0.0.4/24",
        { address: "10.0.0.5" },
      ],
    };
    assert.deepEqual(podIpsFromResult(result), [
      { address: "10.0.0.2", prefixLength: 24, family: 4 },
      { address: "10.0.0.5", prefixLength: 32, family: 4 },
    ]);
  });

  test("no result, no ips", () => {
    assert.deepEqual(podIpsFromResult(undefined), []);
    assert.deepEqual(podIpsFromResult({ cniVersion: "1.0.0" }), []);
    assert.deepEqual(podIpsFromResult([]), []);
  });
});

describe("parseErrorOutput", () => {
  test("the spec's error object", () => {
    assert.deepEqual(
      parseErrorOutput(
        '{"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration","details":"too small"}',
      ),
      { code: 7, msg: "Invalid Configuration", details: "too small" },
    );
  });

  test("the bridge plugin's, without cniVersion or details", () => {
    assert.deepEqual(parseErrorOutput('{\n  "code": 999,\n  "msg": "running iptables"\n}'), {
      code: 999,
      msg: "running iptables",
    });
  });

  test("anything else is not an error object", () => {
    for (const text of ["", "panic: nil", "[]", '{"ips":[]}', "null"]) {
      assert.equal(parseErrorOutput(text), undefined, text);
    }
  });
});
