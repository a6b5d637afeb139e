import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ContainerEventType } from "../gen/runtime/v1/api_pb.js";
import type { ProcessState } from "../store/records.ts";
import { eventsForTransition, phaseOf } from "./event-kinds.ts";

const {
  CONTAINER_CREATED_EVENT: C,
  CONTAINER_STARTED_EVENT: S,
  CONTAINER_STOPPED_EVENT: X,
} = ContainerEventType;

function process(status: ProcessState["status"], extra: Partial<ProcessState> = {}): ProcessState {
  return {
    status,
    pid: 0,
    exitCode: 0,
    oomKilled: false,
    error: "",
    startedAt: 0n,
    finishedAt: 0n,
    ...extra,
  };
}

describe("eventsForTransition", () => {
  const cases: Array<[string, ProcessState | undefined, ProcessState, ContainerEventType[]]> = [
    ["new and created", undefined, process("created"), [C]],
    ["new and already running", undefined, process("running", { startedAt: 1n }), [C, S]],
    ["new and already exited", undefined, process("exited", { startedAt: 1n }), [C, S, X]],
    ["created → running", process("created"), process("running", { startedAt: 1n }), [S]],
    [
      "running → exited",
      process("running", { startedAt: 1n }),
      process("exited", { startedAt: 1n }),
      [X],
    ],
    // Ran and ended between two looks: STARTED must not be skipped.
    [
      "created → exited after running",
      process("created"),
      process("exited", { startedAt: 1n }),
      [S, X],
    ],
    ["created → failed start", process("created"), process("created", { error: "boom" }), [X]],
    [
      "restart seen as a new start time",
      process("running", { startedAt: 1n }),
      process("running", { startedAt: 2n }),
      [S],
    ],
    [
      "start time stamped after running was seen",
      process("running"),
      process("running", { startedAt: 5n }),
      [],
    ],
    ["no change", process("running", { startedAt: 1n }), process("running", { startedAt: 1n }), []],
  ];
  for (const [name, before, after, expected] of cases) {
    test(name, () => assert.deepEqual(eventsForTransition(before, after), expected));
  }

  test("phases", () => {
    assert.equal(phaseOf(process("created", { error: "x" })), "exited");
    assert.equal(phaseOf(process("paused")), "running");
    assert.equal(phaseOf(process("gone")), "exited");
  });
});
