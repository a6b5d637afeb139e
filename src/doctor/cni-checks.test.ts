import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CniFacts, evaluateCniConfig, evaluateCniPlugins } from "./cni-checks.ts";

const network = {
  cniVersion: "1.0.0",
  name: "pods",
  plugins: [{ type: "bridge" }],
  file: "/etc/cni/net.d/10-pods.conflist",
  raw: {},
};
const facts: CniFacts = {
  confDir: "/etc/cni/net.d",
  binDirs: ["/opt/cni/bin", "/usr/lib/cni"],
  lookup: { ok: true, network },
  defaultNetwork: true,
  plugins: [
    { type: "bridge", path: "/usr/lib/cni/bridge" },
    { type: "host-local", path: "/usr/lib/cni/host-local" },
  ],
};

describe("evaluateCniConfig", () => {
  test("a valid config is ok, naming network, version and file", () => {
    const result = evaluateCniConfig(facts);
    assert.equal(result.status, "ok");
    assert.equal(result.detail, "network pods (CNI 1.0.0) from /etc/cni/net.d/10-pods.conflist");
  });
  const none = { ok: false as const, reason: "no CNI network config found in /etc/cni/net.d" };
  test("none, but berth writes its default network: a warning", () => {
    assert.equal(evaluateCniConfig({ ...facts, lookup: none }).status, "warn");
  });
  test("none and --no-default-network: a failure with the fix", () => {
    const result = evaluateCniConfig({ ...facts, lookup: none, defaultNetwork: false });
    assert.equal(result.status, "fail");
    assert.match(
      result.detail,
      /^no CNI network config found in \/etc\/cni\/net\.d: pods cannot get a network/,
    );
    assert.match(result.fix ?? "", /drop --no-default-network/);
  });
});

describe("evaluateCniPlugins", () => {
  test("all found: ok, listing them", () => {
    assert.equal(
      evaluateCniPlugins(facts).detail,
      "bridge, host-local found in /opt/cni/bin:/usr/lib/cni",
    );
  });
  test("a missing plugin fails, naming it and the directories", () => {
    const result = evaluateCniPlugins({
      ...facts,
      plugins: [...facts.plugins, { type: "calico", path: undefined }],
    });
    assert.equal(result.status, "fail");
    assert.equal(result.detail, "not found in /opt/cni/bin:/usr/lib/cni: calico");
    assert.match(result.fix ?? "", /--cni-bin-dir/);
  });
  test("no config, no plugins: a note", () => {
    assert.equal(evaluateCniPlugins({ ...facts, plugins: [] }).status, "info");
  });
});
