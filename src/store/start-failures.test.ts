import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StartFailures } from "./start-failures.ts";

const id = (n: number) => n.toString(16).padStart(64, "0");

test("records of containers that no longer exist are dropped, in memory and on disk", async () => {
  const root = mkdtempSync(join(tmpdir(), "berth-start-failures-"));
  try {
    const failures = new StartFailures(root);
    for (let n = 1; n <= 5; n++) await failures.record(id(n), `failure ${n}`);
    failures.retainOnly(new Set([id(2), id(4)]));
    assert.equal(failures.size, 2);
    assert.equal(failures.get(id(2)), "failure 2");
    assert.equal(failures.get(id(1)), undefined);
    assert.deepEqual(readdirSync(join(root, "start-failures")).sort(), [id(2), id(4)]);
    // A restarted berth sees only what was kept.
    assert.equal(new StartFailures(root).size, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
