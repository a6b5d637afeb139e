import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Coalescer } from "./pull-coalescer.ts";

/** A task whose completion the test controls, recording each start and the signal it got. */
function controlledTask<T>() {
  const starts: Array<{
    signal: AbortSignal;
    resolve: (v: T) => void;
    reject: (e: unknown) => void;
  }> = [];
  const task = (signal: AbortSignal): Promise<T> => {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    starts.push({ signal, resolve, reject });
    return promise;
  };
  const start = (index: number) => {
    const entry = starts[index];
    assert.ok(entry, `task start #${index} happened`);
    return entry;
  };
  return { starts, task, start };
}

const never = () => new AbortController().signal;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Coalescer", () => {
  test("concurrent runs with one key start the task once and all get its value", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const waiters = [1, 2, 3].map(() => c.run("busybox", never(), t.task));
    assert.equal(t.starts.length, 1);
    assert.equal(c.size, 1);
    t.start(0).resolve("sha256:abc");
    assert.deepEqual(await Promise.all(waiters), ["sha256:abc", "sha256:abc", "sha256:abc"]);
    assert.equal(t.starts.length, 1);
  });

  test("different keys run separately", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const a = c.run("a", never(), t.task);
    const b = c.run("b", never(), t.task);
    assert.equal(t.starts.length, 2);
    assert.equal(c.size, 2);
    t.start(1).resolve("B");
    t.start(0).resolve("A");
    assert.deepEqual(await Promise.all([a, b]), ["A", "B"]);
  });

  test("a failure reaches every waiter", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const failure = new Error("pull access denied");
    const waiters = [1, 2, 3].map(() => c.run("k", never(), t.task));
    t.start(0).reject(failure);
    const results = await Promise.allSettled(waiters);
    for (const result of results) {
      assert.deepEqual(result, { status: "rejected", reason: failure });
    }
    assert.equal(c.size, 0);
  });

  test("one waiter aborting does not cancel the shared task while others wait", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const leaving = new AbortController();
    const first = c.run("k", leaving.signal, t.task);
    const second = c.run("k", never(), t.task);
    const reason = new Error("kubelet gave up");
    leaving.abort(reason);
    await assert.rejects(first, (err: unknown) => err === reason);
    assert.equal(t.start(0).signal.aborted, false);
    assert.equal(c.size, 1);
    t.start(0).resolve("done");
    assert.equal(await second, "done");
  });

  test("a waiter that joins after another left still shares the same task", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const leaving = new AbortController();
    const first = c.run("k", leaving.signal, t.task);
    const second = c.run("k", never(), t.task);
    leaving.abort(new Error("gone"));
    await assert.rejects(first);
    const third = c.run("k", never(), t.task);
    assert.equal(t.starts.length, 1);
    t.start(0).resolve("v");
    assert.deepEqual(await Promise.all([second, third]), ["v", "v"]);
  });

  test("when all waiters abort, the task's signal is aborted with the last reason", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const a = new AbortController();
    const b = new AbortController();
    const first = c.run("k", a.signal, t.task);
    const second = c.run("k", b.signal, t.task);
    a.abort(new Error("first left"));
    await assert.rejects(first);
    assert.equal(t.start(0).signal.aborted, false);
    const last = new Error("second left");
    b.abort(last);
    await assert.rejects(second, (err: unknown) => err === last);
    assert.equal(t.start(0).signal.aborted, true);
    assert.equal(t.start(0).signal.reason, last);
    assert.equal(c.size, 0);
  });

  test("after every waiter aborted, a new run starts a new task", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const a = new AbortController();
    const first = c.run("k", a.signal, t.task);
    a.abort(new Error("left"));
    await assert.rejects(first);
    const second = c.run("k", never(), t.task);
    assert.equal(t.starts.length, 2);
    // The abandoned task finishing late must not end the new one's registration.
    t.start(0).reject(new Error("aborted"));
    await tick();
    assert.equal(c.size, 1);
    t.start(1).resolve("fresh");
    assert.equal(await second, "fresh");
    assert.equal(c.size, 0);
  });

  test("a run with an already aborted signal rejects with its reason", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const reason = new Error("already gone");
    await assert.rejects(
      c.run("k", AbortSignal.abort(reason), t.task),
      (err: unknown) => err === reason,
    );
    assert.equal(c.size, 0);
    for (const start of t.starts) assert.equal(start.signal.aborted, true);
  });

  test("an already aborted waiter does not cancel a task others wait for", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const waiting = c.run("k", never(), t.task);
    await assert.rejects(c.run("k", AbortSignal.abort(new Error("x")), t.task));
    assert.equal(t.start(0).signal.aborted, false);
    t.start(0).resolve("ok");
    assert.equal(await waiting, "ok");
  });

  test("after completion a new run starts a new task", async () => {
    const c = new Coalescer<number>();
    let calls = 0;
    const task = async () => ++calls;
    assert.equal(await c.run("k", never(), task), 1);
    assert.equal(await c.run("k", never(), task), 2);
    assert.equal(calls, 2);
  });

  test("after a failure a new run starts a new task", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    const first = c.run("k", never(), t.task);
    t.start(0).reject(new Error("boom"));
    await assert.rejects(first, /boom/);
    const second = c.run("k", never(), t.task);
    assert.equal(t.starts.length, 2);
    t.start(1).resolve("retry ok");
    assert.equal(await second, "retry ok");
  });

  test("size counts distinct running tasks and drops to 0 when they settle", async () => {
    const c = new Coalescer<string>();
    const t = controlledTask<string>();
    assert.equal(c.size, 0);
    const runs = [
      c.run("a", never(), t.task),
      c.run("a", never(), t.task),
      c.run("b", never(), t.task),
    ];
    assert.equal(c.size, 2);
    t.start(0).resolve("a");
    await runs[0];
    await tick();
    assert.equal(c.size, 1);
    t.start(1).resolve("b");
    await Promise.all(runs);
    await tick();
    assert.equal(c.size, 0);
  });
});
