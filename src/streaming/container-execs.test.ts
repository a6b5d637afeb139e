import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { pino } from "pino";
import type { ContainerInspect, ExecInspect } from "../docker/types.ts";
import { killExecsBeforeStop, ownsPidNamespace } from "./container-execs.ts";

const log = pino({ level: "silent" });

test("a container owns its PID namespace unless it shares its pod's or the host's", () => {
  for (const [pidMode, owns] of [
    [undefined, true],
    ["", true],
    ["private", true],
    ["host", false],
    ["container:0123abcd", false],
  ] as const) {
    assert.equal(ownsPidNamespace(pidMode), owns, String(pidMode));
  }
});

/** An engine whose one container runs `execs`, each a real host process standing for one. */
function engineWith(pidMode: string, running: boolean, execs: Map<string, number>) {
  const inspected: string[] = [];
  const exited = new Set<number>();
  return {
    inspected,
    exited,
    engine: {
      findContainer: async (id: string) =>
        ({
          Id: id,
          State: { Running: running },
          HostConfig: { PidMode: pidMode },
          ExecIDs: [...execs.keys()],
        }) as unknown as ContainerInspect,
      inspectExec: async (id: string): Promise<ExecInspect> => {
        inspected.push(id);
        const pid = execs.get(id) ?? 0;
        const alive = !exited.has(pid);
        return {
          ID: id,
          Running: alive,
          ExitCode: alive ? null : 137,
          Pid: pid,
          ContainerID: "c",
        };
      },
    },
  };
}

async function sleeper() {
  const child = spawn("sleep", ["600"], { stdio: "ignore" });
  await once(child, "spawn");
  return child;
}

test("the exec'd processes of a container in its pod's PID namespace are killed before its stop", async () => {
  const children = [await sleeper(), await sleeper()];
  const execs = new Map(children.map((c, i) => [`exec-${i}`, c.pid as number]));
  const fake = engineWith("container:pause", true, execs);
  for (const child of children) {
    child.once("exit", () => fake.exited.add(child.pid as number));
  }
  await killExecsBeforeStop(fake.engine, "c", AbortSignal.timeout(10_000), log);
  // Returns once the engine reports them exited, not merely signalled.
  assert.deepEqual([...fake.exited].sort(), children.map((c) => c.pid as number).sort());
  for (const child of children) assert.equal(child.signalCode, "SIGKILL");
});

test("a container with its own PID namespace, or not running, is left to the engine", async () => {
  const child = await sleeper();
  try {
    const execs = new Map([["exec-0", child.pid as number]]);
    for (const [pidMode, running] of [
      ["", true],
      ["container:pause", false],
    ] as const) {
      const fake = engineWith(pidMode, running, execs);
      await killExecsBeforeStop(fake.engine, "c", AbortSignal.timeout(10_000), log);
      assert.deepEqual(fake.inspected, [], `${pidMode} running=${running}`);
    }
    assert.equal(child.exitCode, null);
    assert.equal(child.signalCode, null);
  } finally {
    child.kill("SIGKILL");
  }
});
