import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CgroupDirs } from "./cgroup-paths.ts";
import {
  CgroupReader,
  limitOf,
  memoryV1,
  nowNs,
  parseFlatKeyed,
  parsePsi,
  parseScalar,
  sumSamples,
  workingSetOf,
} from "./cgroup-reader.ts";
import { PreadFiles } from "./pread-files.ts";

const V1_MEMORY_STAT = `cache 4096
rss 49152
total_cache 1048576
total_rss 2097152
total_mapped_file 8192
total_swap 0
total_pgfault 1146
total_pgmajfault 3
total_inactive_file 524288
total_active_file 524288
hierarchical_memory_limit 9223372036854771712
`;

const V2_MEMORY_STAT = `anon 2097152
file 1048576
kernel_stack 16384
file_mapped 8192
active_file 524288
inactive_file 262144
pgfault 2000
pgmajfault 7
`;

const PSI = `some avg10=1.50 avg60=0.25 avg300=0.00 total=123456
full avg10=0.00 avg60=0.00 avg300=0.00 total=42
`;

describe("parsers", () => {
  test("flat keyed files, ignoring non-numeric values", () => {
    const values = parseFlatKeyed("usage_usec 10\nuser_usec 7\nbogus x\n\n");
    assert.deepEqual(
      [...values],
      [
        ["usage_usec", 10n],
        ["user_usec", 7n],
      ],
    );
    // Surrounding blanks as trim() would drop them; no trailing newline; a key with no value.
    assert.deepEqual(
      [...parseFlatKeyed("a  12 \r\nb 1x\nc \nd 3")],
      [
        ["a", 12n],
        ["d", 3n],
      ],
    );
  });

  test("scalars: numbers and v2's max", () => {
    assert.equal(parseScalar("123\n"), 123n);
    assert.equal(parseScalar("max\n"), undefined);
    assert.throws(() => parseScalar("nope"));
  });

  test("limits above 2^62 mean unlimited (v1's PAGE_COUNTER_MAX)", () => {
    assert.equal(limitOf(9223372036854771712n), undefined);
    assert.equal(limitOf(undefined), undefined);
    assert.equal(limitOf(268435456n), 268435456n);
  });

  test("PSI: totals become nanoseconds", () => {
    assert.deepEqual(parsePsi(PSI), {
      some: { total: 123456000n, avg10: 1.5, avg60: 0.25, avg300: 0 },
      full: { total: 42000n, avg10: 0, avg60: 0, avg300: 0 },
    });
  });

  test("working set is usage minus inactive file, floored at 0", () => {
    assert.equal(workingSetOf(1000n, 300n), 700n);
    assert.equal(workingSetOf(100n, 300n), 0n);
  });

  test("v1 memory uses the hierarchical total_* fields", () => {
    const memory = memoryV1(4194304n, 268435456n, parseFlatKeyed(V1_MEMORY_STAT));
    assert.equal(memory.workingSet, 4194304n - 524288n);
    assert.equal(memory.rss, 2097152n);
    assert.equal(memory.cache, 1048576n);
    assert.equal(memory.pgfault, 1146n);
    assert.equal(memory.pgmajfault, 3n);
    assert.equal(memory.limit, 268435456n);
    assert.equal(memory.swap, 0n);
  });

  test("nowNs is close to Date.now", () => {
    const diff = nowNs() - BigInt(Date.now()) * 1_000_000n;
    assert.ok(diff > -5_000_000n && diff < 5_000_000n, `off by ${diff} ns`);
  });

  test("sumSamples adds CPU, memory and processes", () => {
    const base = {
      usage: 10n,
      workingSet: 8n,
      rss: 5n,
      cache: 2n,
      mappedFile: 1n,
      activeFile: 1n,
      inactiveFile: 2n,
      pgfault: 3n,
      pgmajfault: 0n,
    };
    const sum = sumSamples(
      [
        { timestamp: 1n, cpu: { usageNs: 100n }, memory: base, pids: { current: 2n } },
        { timestamp: 2n, cpu: { usageNs: 50n }, memory: { ...base, limit: 99n } },
      ],
      5n,
    );
    assert.equal(sum.timestamp, 5n);
    assert.equal(sum.cpu?.usageNs, 150n);
    assert.equal(sum.memory?.workingSet, 16n);
    assert.equal(sum.memory?.limit, undefined, "a sum has no limit");
    assert.equal(sum.pids?.current, 2n);
  });
});

describe("CgroupReader on a cgroup-like tree", () => {
  let root: string;
  const files = new PreadFiles();
  const reader = new CgroupReader(files);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-cgroup-"));
  });
  after(async () => {
    await files.releaseAll();
    await rm(root, { recursive: true, force: true });
  });

  async function tree(entries: Record<string, string>): Promise<void> {
    for (const [path, content] of Object.entries(entries)) {
      await mkdir(join(root, path, ".."), { recursive: true });
      await writeFile(join(root, path), content);
    }
  }

  test("v1: CPU, memory, pids and the metrics extras", async () => {
    await tree({
      "v1/cpuacct/c/cpuacct.usage": "5000000000\n",
      "v1/cpuacct/c/cpuacct.stat": "user 300\nsystem 100\n",
      "v1/cpu/c/cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 3000000000\n",
      "v1/memory/c/memory.usage_in_bytes": "4194304\n",
      "v1/memory/c/memory.limit_in_bytes": "9223372036854771712\n",
      "v1/memory/c/memory.stat": V1_MEMORY_STAT,
      "v1/memory/c/memory.max_usage_in_bytes": "8388608\n",
      "v1/memory/c/memory.failcnt": "4\n",
      "v1/memory/c/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
      "v1/pids/c/pids.current": "3\n",
      "v1/pids/c/pids.max": "max\n",
    });
    const dirs: CgroupDirs = {
      version: 1,
      cpu: join(root, "v1/cpu/c"),
      cpuacct: join(root, "v1/cpuacct/c"),
      memory: join(root, "v1/memory/c"),
      pids: join(root, "v1/pids/c"),
    };
    const cpuOnly = await reader.read("v1", dirs, "cpu");
    assert.deepEqual(cpuOnly.cpu, { usageNs: 5000000000n });
    assert.equal(cpuOnly.memory, undefined);

    const stats = await reader.read("v1", dirs, "stats");
    assert.equal(stats.memory?.usage, 4194304n);
    assert.equal(stats.memory?.limit, undefined, "unlimited");
    // One sample serves ContainerStats and PodSandboxStats: both levels read the process count.
    assert.deepEqual(stats.pids, { current: 3n });
    assert.equal(stats.cpu?.userNs, undefined, "metrics extras only for metrics");

    const pod = await reader.read("v1", dirs, "pod");
    assert.deepEqual(pod.pids, { current: 3n });

    const metrics = await reader.read("v1", dirs, "metrics");
    assert.equal(metrics.cpu?.userNs, 3_000_000_000n);
    assert.equal(metrics.cpu?.systemNs, 1_000_000_000n);
    assert.equal(metrics.cpu?.throttledPeriods, 2n);
    assert.equal(metrics.cpu?.throttledNs, 3_000_000_000n);
    assert.equal(metrics.memory?.maxUsage, 8388608n);
    assert.equal(metrics.memory?.failcnt, 4n);
    assert.equal(metrics.memory?.oomKills, 1n);
    assert.deepEqual(metrics.pids, { current: 3n, max: undefined });

    // The same handles give fresh values.
    await writeFile(join(root, "v1/cpuacct/c/cpuacct.usage"), "6000000000\n");
    assert.equal((await reader.read("v1", dirs, "cpu")).cpu?.usageNs, 6000000000n);
  });

  test("v2: one directory, usage_usec in microseconds, PSI, swap", async () => {
    await tree({
      "v2/c/cpu.stat":
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 1000\n",
      "v2/c/memory.current": "4194304\n",
      "v2/c/memory.max": "8388608\n",
      "v2/c/memory.stat": V2_MEMORY_STAT,
      "v2/c/memory.swap.current": "4096\n",
      "v2/c/memory.swap.max": "max\n",
      "v2/c/memory.events": "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n",
      "v2/c/cpu.pressure": PSI,
      "v2/c/pids.current": "2\n",
      "v2/c/pids.max": "100\n",
    });
    const dir = join(root, "v2/c");
    const dirs: CgroupDirs = { version: 2, cpu: dir, cpuacct: dir, memory: dir, pids: dir };
    const sample = await reader.read("v2", dirs, "metrics");
    assert.equal(sample.cpu?.usageNs, 2_500_000_000n);
    assert.equal(sample.cpu?.throttledNs, 1_000_000n);
    assert.equal(sample.cpu?.psi?.some?.total, 123456000n);
    assert.equal(sample.memory?.usage, 4194304n);
    assert.equal(sample.memory?.workingSet, 4194304n - 262144n);
    assert.equal(sample.memory?.limit, 8388608n);
    assert.equal(sample.memory?.rss, 2097152n, "anon");
    assert.equal(sample.memory?.swap, 4096n);
    assert.equal(sample.memory?.swapLimit, undefined);
    assert.equal(sample.memory?.failcnt, 5n);
    assert.equal(sample.memory?.oomKills, 1n);
    assert.equal(sample.memory?.psi, undefined, "no memory.pressure file here");
    assert.deepEqual(sample.pids, { current: 2n, max: 100n });
  });

  test("a missing required file rejects", async () => {
    const dir = join(root, "nowhere");
    const dirs: CgroupDirs = { version: 2, cpu: dir, cpuacct: dir, memory: dir, pids: dir };
    await assert.rejects(reader.read("gone", dirs, "stats"), { code: "ENOENT" });
  });
});
