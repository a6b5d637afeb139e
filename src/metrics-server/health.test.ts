import assert from "node:assert/strict";
import { test } from "node:test";
import { HEALTH_CACHE_MS, Health } from "./health.ts";

test("healthy only while every probe passes, naming each failing one", async () => {
  let engine: string | undefined;
  let now = 0;
  const health = new Health({ docker: async () => engine, cri: async () => undefined }, () => now);
  assert.deepEqual(await health.check(), { healthy: true, reasons: [] });
  engine = "connect ENOENT /var/run/docker.sock";
  now += HEALTH_CACHE_MS;
  assert.deepEqual(await health.check(), {
    healthy: false,
    reasons: ["docker: connect ENOENT /var/run/docker.sock"],
  });
});

test("a probe's answer is reused for a second; a throwing probe fails with its message", async () => {
  let calls = 0;
  let now = 1000;
  const health = new Health(
    {
      docker: async () => {
        calls++;
        throw new Error("socket hang up");
      },
    },
    () => now,
  );
  await Promise.all([health.check(), health.check()]);
  now += HEALTH_CACHE_MS - 1;
  const report = await health.check();
  assert.equal(calls, 1);
  assert.deepEqual(report.reasons, ["docker: socket hang up"]);
  now += 1;
  await health.check();
  assert.equal(calls, 2);
});
