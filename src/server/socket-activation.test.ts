import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ActivationError,
  selectActivatedSocket,
  takeActivatedSockets,
} from "./socket-activation.ts";

describe("socket activation", () => {
  test("takes LISTEN_FDS sockets from fd 3 with their names, and unsets the variables", () => {
    const env: NodeJS.ProcessEnv = {
      LISTEN_PID: "42",
      LISTEN_FDS: "2",
      LISTEN_FDNAMES: "cri:metrics",
      PATH: "/bin",
    };
    assert.deepEqual(takeActivatedSockets(env, 42), [
      { fd: 3, name: "cri" },
      { fd: 4, name: "metrics" },
    ]);
    assert.deepEqual(env, { PATH: "/bin" });
  });

  test("sockets meant for another pid are not taken, but the variables still go", () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: "41", LISTEN_FDS: "1" };
    assert.deepEqual(takeActivatedSockets(env, 42), []);
    assert.deepEqual(env, {});
  });

  test("no or bad LISTEN_FDS: nothing; missing names: unknown", () => {
    assert.deepEqual(takeActivatedSockets({}, 42), []);
    assert.deepEqual(takeActivatedSockets({ LISTEN_PID: "42", LISTEN_FDS: "x" }, 42), []);
    assert.deepEqual(takeActivatedSockets({ LISTEN_PID: "42", LISTEN_FDS: "1" }, 42), [
      { fd: 3, name: "unknown" },
    ]);
  });

  test("fd:// takes the first socket, fd://NAME the named one", () => {
    const sockets = [
      { fd: 3, name: "cri-docker.socket" },
      { fd: 4, name: "cri" },
    ];
    assert.equal(selectActivatedSocket("fd://", sockets), 3);
    assert.equal(selectActivatedSocket("fd://cri", sockets), 4);
    assert.throws(
      () => selectActivatedSocket("fd://nope", sockets),
      (err: unknown) =>
        err instanceof ActivationError &&
        /no socket named nope \(passed: cri-docker.socket, cri\)/.test(err.message),
    );
    assert.throws(
      () => selectActivatedSocket("fd://", []),
      (err: unknown) => err instanceof ActivationError && /no socket was passed/.test(err.message),
    );
  });
});
