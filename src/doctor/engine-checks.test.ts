import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type EngineFacts,
  evaluateCgroups,
  evaluateEngine,
  evaluatePauseImage,
} from "./engine-checks.ts";

const endpoint = "unix:///var/run/docker.sock";
const engine = {
  reachable: true as const,
  endpoint,
  version: "20.10.24",
  engineApi: "1.41",
  negotiatedApi: "1.41",
  cgroupDriver: "cgroupfs",
  cgroupVersion: "2",
};

describe("evaluateEngine", () => {
  test("unreachable: a failure naming the endpoint and how to start the engine", () => {
    const result = evaluateEngine({ reachable: false, endpoint, error: "connect ECONNREFUSED" });
    assert.equal(result.status, "fail");
    assert.match(
      result.detail,
      /no Docker Engine answers at unix:\/\/\/var\/run\/docker\.sock: connect ECONNREFUSED/,
    );
    assert.match(result.fix ?? "", /--docker-endpoint/);
  });

  test("an engine too old for berth is a failure even though it answers", () => {
    const facts: EngineFacts = {
      reachable: true,
      endpoint,
      unsupported: "Docker Engine API 1.40 is too old: berth needs 1.41 (Docker 20.10) or newer",
    };
    const result = evaluateEngine(facts);
    assert.equal(result.status, "fail");
    assert.match(result.detail, /answers, but Docker Engine API 1\.40 is too old/);
  });

  test("supported: ok with version and API; an engine newer than berth knows is capped", () => {
    assert.equal(evaluateEngine(engine).status, "ok");
    assert.match(
      evaluateEngine(engine).detail,
      /Docker Engine 20\.10\.24 at .*, API 1\.41 \(berth speaks 1\.41 to/,
    );
    const newer = evaluateEngine({ ...engine, engineApi: "1.60", negotiatedApi: "1.51" });
    assert.equal(newer.status, "ok");
    assert.match(newer.detail, /API 1\.60; berth speaks API 1\.51/);
  });
});

describe("evaluateCgroups", () => {
  test("cgroup v2 is ok and names the kubelet's driver", () => {
    const result = evaluateCgroups({ ...engine, cgroupDriver: "systemd" }, true);
    assert.equal(result.status, "ok");
    assert.match(result.detail, /cgroupDriver to systemd/);
  });
  test("cgroup v1 warns", () => {
    assert.equal(evaluateCgroups({ ...engine, cgroupVersion: "1" }, false).status, "warn");
  });
  test("cgroupfs under systemd as init warns with the daemon.json fix", () => {
    const result = evaluateCgroups(engine, true);
    assert.equal(result.status, "warn");
    assert.match(result.fix ?? "", /native\.cgroupdriver=systemd/);
  });
});

describe("evaluatePauseImage", () => {
  const image = "registry.k8s.io/pause:3.10";
  test("present is ok, with the short id", () => {
    const result = evaluatePauseImage({ image, present: true, id: `sha256:${"ab".repeat(32)}` });
    assert.equal(result.status, "ok");
    assert.match(result.detail, /\(abababababab\)$/);
  });
  test("absent but served by its registry: a warning (the first pod pulls it)", () => {
    assert.equal(evaluatePauseImage({ image, present: false, pullable: true }).status, "warn");
  });
  test("absent and not served: a failure with the registry's answer and the fix", () => {
    const result = evaluatePauseImage({
      image,
      present: false,
      pullable: false,
      error: "no such host",
    });
    assert.equal(result.status, "fail");
    assert.match(result.detail, /cannot serve it: no such host/);
    assert.match(result.fix ?? "", /--pod-infra-container-image/);
  });
});
