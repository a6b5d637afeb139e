import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  capabilityArgs,
  cniArgs,
  formatCniArgs,
  isValidNetworkName,
  requestConfig,
  runtimeConfigFor,
  validateContainerId,
  validateIfName,
} from "./cni-request.ts";

describe("CNI_ARGS", () => {
  test("as the kubelet passed them, IgnoreUnknown first", () => {
    const args = cniArgs({
      containerId: "abc123",
      podNamespace: "kube-system",
      podName: "coredns-1",
      podUid: "6f1c-22",
    });
    assert.equal(
      formatCniArgs(args),
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1;" +
        "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=6f1c-22",
    );
  });

  test("unknown pod fields are left out, not sent empty", () => {
    assert.equal(
      formatCniArgs(cniArgs({ containerId: "abc", podName: "" })),
      "IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=abc",
    );
  });

  for (const bad of ["a;b", "a=b"]) {
    test(`refuses a value with ${bad.includes(";") ? '";"' : '"="'}`, () => {
      assert.throws(
        () => cniArgs({ containerId: "abc", podNamespace: "ns", podName: bad, podUid: "u" }),
        /K8S_POD_NAME must not contain/,
      );
    });
  }
});

describe("identifier validation", () => {
  test("container ids and network names as the spec allows", () => {
    for (const ok of ["a", "0", "abc-DEF_1.2", "f".repeat(64)]) {
      assert.doesNotThrow(() => validateContainerId(ok), ok);
      assert.equal(isValidNetworkName(ok), true, ok);
    }
    for (const bad of ["", "-a", ".a", "_a", "a/b", "a b", "..", "a:b"]) {
      assert.throws(() => validateContainerId(bad), /CNI container id/, bad);
      assert.equal(isValidNetworkName(bad), false, bad);
    }
  });

  test("interface names", () => {
    for (const ok of ["eth0", "net1", "a".repeat(15), "e-t_h.0"]) {
      assert.doesNotThrow(() => validateIfName(ok), ok);
    }
    for (const bad of ["", ".", "..", "a".repeat(16), "a/b", "a:b", "a b", "a\tb"]) {
      assert.throws(() => validateIfName(bad), /not a valid interface name/, bad);
    }
  });
});

describe("capabilityArgs", () => {
  test("nothing given, nothing offered", () => {
    assert.deepEqual(capabilityArgs(undefined), {});
    assert.deepEqual(capabilityArgs({}), {});
  });

  test("port mappings: hostPort 0 dropped, protocol lower-cased, empty hostIP left out", () => {
    const args = capabilityArgs({
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "" },
        { hostPort: 0, containerPort: 81, protocol: "tcp" },
        { hostPort: 5353, containerPort: 53, protocol: "UDP", hostIP: "127.0.0.1" },
        { hostPort: 9999, containerPort: 9999, protocol: "sctp" },
      ],
    });
    assert.deepEqual(args, {
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: "tcp" },
        { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" },
        { hostPort: 9999, containerPort: 9999, protocol: "sctp" },
      ],
    });
  });

  test("only container ports: no portMappings at all", () => {
    assert.deepEqual(
      capabilityArgs({ portMappings: [{ hostPort: 0, containerPort: 80, protocol: "tcp" }] }),
      {},
    );
  });

  test("bandwidth: zeros filled in; all-zero left out", () => {
    assert.deepEqual(capabilityArgs({ bandwidth: { ingressRate: 1000, ingressBurst: 2000 } }), {
      bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 0, egressBurst: 0 },
    });
    assert.deepEqual(capabilityArgs({ bandwidth: { ingressRate: 0, egressRate: 0 } }), {});
  });

  test("dns: missing lists are empty; nothing at all left out", () => {
    assert.deepEqual(capabilityArgs({ dns: { servers: ["10.96.0.10"] } }), {
      dns: { servers: ["10.96.0.10"], searches: [], options: [] },
    });
    assert.deepEqual(capabilityArgs({ dns: { servers: [], searches: [], options: [] } }), {});
  });
});

describe("runtimeConfigFor", () => {
  const args = {
    portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }],
    bandwidth: { ingressRate: 1, ingressBurst: 1, egressRate: 0, egressBurst: 0 },
  };

  test("only capabilities the plugin declares true and the runtime offers", () => {
    assert.deepEqual(
      runtimeConfigFor(
        { type: "portmap", capabilities: { portMappings: true, bandwidth: false, dns: true } },
        args,
      ),
      { portMappings: args.portMappings },
    );
  });

  test("no capabilities map, nothing", () => {
    assert.deepEqual(runtimeConfigFor({ type: "bridge" }, args), {});
    assert.deepEqual(runtimeConfigFor({ type: "bridge", capabilities: "yes" }, args), {});
  });

  test('a truthy non-true value is not a declaration ("portMappings": 1)', () => {
    assert.deepEqual(runtimeConfigFor({ type: "x", capabilities: { portMappings: 1 } }, args), {});
  });
});

describe("requestConfig", () => {
  const plugin = {
    type: "portmap",
    cniVersion: "0.3.1",
    name: "stale",
    capabilities: { portMappings: true },
    snat: true,
    nested: { keep: ["me"] },
  };

  test("injects name and version, drops capabilities, passes the rest through", () => {
    const config = requestConfig(plugin, { name: "berth", cniVersion: "1.0.0" });
    assert.deepEqual(config, {
      type: "portmap",
      cniVersion: "1.0.0",
      name: "berth",
      snat: true,
      nested: { keep: ["me"] },
    });
    assert.equal(plugin.name, "stale", "the plugin's config is not modified");
    assert.ok("capabilities" in plugin);
  });

  test("runtimeConfig from declared capabilities, prevResult when given", () => {
    const prevResult = { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] };
    const config = requestConfig(plugin, {
      name: "berth",
      cniVersion: "1.0.0",
      prevResult,
      capabilityArgs: {
        portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }],
        bandwidth: {},
      },
    });
    assert.deepEqual(config.runtimeConfig, {
      portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }],
    });
    assert.deepEqual(config.prevResult, prevResult);
  });

  test("no runtimeConfig key when nothing applies; a configured prevResult is not passed on", () => {
    const config = requestConfig(
      { type: "bridge", prevResult: { stale: true }, runtimeConfig: { static: 1 } },
      { name: "n", cniVersion: "1.0.0", capabilityArgs: { portMappings: [] } },
    );
    assert.equal("prevResult" in config, false);
    assert.deepEqual(config.runtimeConfig, { static: 1 });
  });
});
