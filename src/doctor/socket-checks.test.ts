import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CriSocketFacts, evaluateCriSocket, evaluateOtherRuntimes } from "./socket-checks.ts";

const path = "/run/berth/berth.sock";
const listen = `unix://${path}`;
const socket = (mode: number, answers: boolean): CriSocketFacts => ({
  listen,
  kind: "unix",
  path,
  state: "socket",
  mode,
  group: "docker",
  answer: answers
    ? { answers: true, runtimeName: "docker", runtimeVersion: "28.5.2" }
    : { answers: false, error: "connect ECONNREFUSED" },
});

describe("evaluateCriSocket", () => {
  test("free path: ok, berth creates it", () => {
    const result = evaluateCriSocket({
      listen,
      kind: "unix",
      path,
      state: "absent",
      dirExists: false,
    });
    assert.equal(result.status, "ok");
    assert.match(result.detail, /free; berth creates it with mode 0660 \(and its directory\)/);
  });
  test("served: ok with mode, group and who answers", () => {
    const result = evaluateCriSocket(socket(0o660, true));
    assert.equal(result.status, "ok");
    assert.equal(
      result.detail,
      `${path} (mode 0660, group docker) serves CRI: runtime docker 28.5.2`,
    );
  });
  test("stale: ok, berth replaces it", () => {
    assert.match(evaluateCriSocket(socket(0o660, false)).detail, /no one serves .* replaces it/);
  });
  test("world-accessible: a warning with chmod", () => {
    const result = evaluateCriSocket(socket(0o666, true));
    assert.equal(result.status, "warn");
    assert.match(result.fix ?? "", /chmod 0660/);
  });
  test("a file that is not a socket fails; TCP warns", () => {
    assert.equal(
      evaluateCriSocket({ listen, kind: "unix", path, state: "not-socket" }).status,
      "fail",
    );
    assert.equal(evaluateCriSocket({ listen: "tcp://0.0.0.0:1234", kind: "tcp" }).status, "warn");
  });
});

describe("evaluateOtherRuntimes", () => {
  test("nothing else: ok", () => {
    const results = evaluateOtherRuntimes({
      criDockerdPids: [],
      criDockerd: undefined,
      containerd: undefined,
    });
    assert.deepEqual(
      results.map((r) => r.status),
      ["ok"],
    );
  });
  test("cri-dockerd running or answering warns; containerd's CRI is a note", () => {
    const results = evaluateOtherRuntimes({
      criDockerdPids: [4242],
      criDockerd: { answers: true, runtimeName: "docker", runtimeVersion: "28.5.2" },
      containerd: { answers: true, runtimeName: "containerd", runtimeVersion: "v2.1.9" },
    });
    assert.deepEqual(
      results.map((r) => [r.name, r.status]),
      [
        ["other-cri", "warn"],
        ["containerd-cri", "info"],
      ],
    );
    assert.match(
      results[0]?.detail ?? "",
      /cri-dockerd runs \(pid 4242\) and CRI answers at \/run\/cri-dockerd\.sock/,
    );
    assert.match(results[0]?.fix ?? "", /cri-docker\.service and cri-docker\.socket/);
  });
});
