import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuRates } from "./cpu-rate.ts";

const S = 1_000_000_000n;
const at = (seconds: number, usageSeconds: number) => ({
  timestamp: BigInt(Math.round(seconds * 1e9)),
  usageNs: BigInt(Math.round(usageSeconds * 1e9)),
});

test("no rate on the first sample; then usage over the interval, in nano-cores", () => {
  const rates = new CpuRates();
  assert.equal(rates.observe("c", at(100, 50)), undefined);
  // 1.5 CPU-seconds in 2 seconds: 0.75 cores.
  assert.equal(rates.observe("c", at(102, 51.5)), (75n * S) / 100n);
});

test("a sample less than the window after the last uses an older base", () => {
  const rates = new CpuRates();
  rates.observe("c", at(0, 0));
  assert.equal(rates.observe("c", at(10, 10)), S, "1 core over 10 s");
  // 5 ms later a second caller asks: still the rate since t=0 (10.005 CPU-s over 10.005 s).
  assert.equal(rates.observe("c", at(10.005, 10.005)), S);
  // 2 s later the base is the t=10 sample (coalesced with t=10.005): 2 cores.
  assert.equal(rates.observe("c", at(12.005, 14.005)), 2n * S);
});

test("no base at least the window old: undefined, not a rate over milliseconds", () => {
  const rates = new CpuRates();
  rates.observe("c", at(0, 0));
  assert.equal(rates.observe("c", at(0.5, 0.5)), undefined);
  assert.equal(rates.observe("c", at(1.2, 1.2)), S);
});

test("a counter that went back (a restarted cgroup) gives no rate and restarts the series", () => {
  const rates = new CpuRates();
  rates.observe("c", at(0, 100));
  assert.equal(rates.observe("c", at(5, 2)), undefined);
  assert.equal(rates.observe("c", at(10, 7)), S);
});

test("peek computes without recording", () => {
  const rates = new CpuRates();
  rates.observe("c", at(0, 0));
  assert.equal(rates.peek("c", at(2, 1)), S / 2n);
  assert.equal(rates.peek("c", at(4, 4)), S, "the peeked sample was not kept");
  assert.equal(rates.peek("other", at(4, 4)), undefined);
});

test("history stays bounded under frequent calls", () => {
  const rates = new CpuRates();
  for (let i = 0; i < 10_000; i++) rates.observe("c", at(i * 0.01, i * 0.01));
  // About window / coalesce (10) samples newer than a second, plus the base.
  assert.ok(rates.samplesOf("c") <= 13, `${rates.samplesOf("c")} samples`);
  // Rate against a base >= 1 s old is still exact.
  assert.equal(rates.observe("c", at(100.5, 100.5)), S);
});

test("forget and prune drop series", () => {
  const rates = new CpuRates({ maxAgeNs: 60n * S });
  rates.observe("a", at(0, 0));
  rates.observe("b", at(100, 0));
  rates.forget("b");
  assert.equal(rates.size, 1);
  rates.prune(at(61, 0).timestamp);
  assert.equal(rates.size, 0);
});

test("a base older than the maximum age gives no rate", () => {
  const rates = new CpuRates({ maxAgeNs: 60n * S });
  rates.observe("c", at(0, 0));
  assert.equal(rates.observe("c", at(120, 60)), undefined);
});
