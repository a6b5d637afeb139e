import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  evaluateBridgeNetfilter,
  evaluateForwardPolicy,
  evaluateInotifyInstances,
  evaluateIpForward,
  INOTIFY_INSTANCES,
  type KernelFacts,
} from "./kernel-checks.ts";

const healthy: KernelFacts = {
  ipForward: "1",
  bridgeNfCallIptables: "1",
  forwardPolicy: { policy: "ACCEPT" },
  podForwardAcceptedBy: undefined,
  inotifyInstances: "8192",
};

describe("kernel checks", () => {
  test("ip_forward: 1 ok; 0 fails with the sysctl fix", () => {
    assert.equal(evaluateIpForward(healthy).status, "ok");
    const off = evaluateIpForward({ ...healthy, ipForward: "0" });
    assert.equal(off.status, "fail");
    assert.match(off.fix ?? "", /sysctl -w net\.ipv4\.ip_forward=1/);
  });

  test("br_netfilter: not loaded fails with modprobe; loaded but 0 fails with the sysctl", () => {
    assert.equal(evaluateBridgeNetfilter(healthy).status, "ok");
    const absent = evaluateBridgeNetfilter({ ...healthy, bridgeNfCallIptables: undefined });
    assert.equal(absent.status, "fail");
    assert.match(absent.fix ?? "", /modprobe br_netfilter/);
    const off = evaluateBridgeNetfilter({ ...healthy, bridgeNfCallIptables: "0" });
    assert.equal(off.status, "fail");
    assert.match(off.fix ?? "", /bridge-nf-call-iptables=1/);
  });

  test("FORWARD DROP warns unless the firewall plugin or berth's rules accept pod traffic", () => {
    assert.equal(evaluateForwardPolicy(healthy).status, "ok");
    const drop = { ...healthy, forwardPolicy: { policy: "DROP" } };
    const warned = evaluateForwardPolicy(drop);
    assert.equal(warned.status, "warn");
    assert.match(warned.detail, /DROP \(Docker sets it\)/);
    assert.match(warned.fix ?? "", /firewall.*DOCKER-USER/);
    const accepted = evaluateForwardPolicy({
      ...drop,
      podForwardAcceptedBy: "the firewall plugin",
    });
    assert.equal(accepted.status, "ok");
    assert.match(accepted.detail, /and the firewall plugin accepts the pods' traffic/);
    assert.equal(
      evaluateForwardPolicy({ ...healthy, forwardPolicy: { error: "ENOENT" } }).status,
      "warn",
    );
  });

  test("inotify instances: the kernel's default 128 warns with the package's value", () => {
    assert.equal(evaluateInotifyInstances(healthy).status, "ok");
    assert.equal(evaluateInotifyInstances({ ...healthy, inotifyInstances: "1024" }).status, "ok");
    const low = evaluateInotifyInstances({ ...healthy, inotifyInstances: "128" });
    assert.equal(low.status, "warn");
    assert.match(low.detail, /= 128: Docker Engine 20\.10 .* polls the logs/);
    assert.match(low.fix ?? "", /sysctl -w fs\.inotify\.max_user_instances=8192/);
    const unreadable = evaluateInotifyInstances({ ...healthy, inotifyInstances: undefined });
    assert.equal(unreadable.status, "warn");
  });

  test("the package's sysctl file sets the value the check recommends", () => {
    const file = readFileSync(
      join(import.meta.dirname, "../../packaging/sysctl/30-berth.conf"),
      "utf8",
    );
    assert.match(
      file,
      new RegExp(`^fs\\.inotify\\.max_user_instances = ${INOTIFY_INSTANCES}$`, "m"),
    );
  });
});
