import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { descendantsOf, killProcessTree, parseParentPid, readParentMap } from "./process-tree.ts";

test("reads the parent PID after the last parenthesis of the command name", () => {
  assert.equal(parseParentPid("42 (sh) S 7 42 42 0 -1"), 7);
  assert.equal(parseParentPid("43 (a) b (c)) R 9 43 43"), 9);
  assert.equal(parseParentPid("garbage"), undefined);
});

test("finds descendants through parent links, parents first", () => {
  const parents = new Map([
    [10, 1],
    [11, 10],
    [12, 11],
    [13, 10],
    [20, 1],
  ]);
  assert.deepEqual(descendantsOf(10, parents), [10, 11, 13, 12]);
});

test("kills a process and the children it forked", async () => {
  const root = spawn("sh", ["-c", "sleep 300 & sleep 300 & wait"], { stdio: "ignore" });
  const rootPid = root.pid as number;
  let tree: number[] = [];
  for (let i = 0; i < 100 && tree.length < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    tree = descendantsOf(rootPid, await readParentMap());
  }
  assert.equal(tree.length, 3, "sh and two sleeps");
  const exited = new Promise((r) => root.once("exit", r));
  await killProcessTree(rootPid);
  await exited;
  await new Promise((r) => setTimeout(r, 50));
  const alive = [...(await readParentMap()).keys()].filter((p) => tree.includes(p));
  // Killed children linger as zombies only until reaped by init; none may still run.
  for (const pid of alive) {
    const { readFileSync } = await import("node:fs");
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    assert.equal(state, "Z", `pid ${pid} still running`);
  }
});
