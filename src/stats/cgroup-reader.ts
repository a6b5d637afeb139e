import type { CgroupDirs } from "./cgroup-paths.ts";
import type { PreadFiles } from "./pread-files.ts";

/**
 * Reading one cgroup's statistics from the cgroup filesystem, v1 and v2, as cAdvisor and
 * containerd read them, with the kubelet's derived values (working set, available bytes).
 * Everything is a bigint: cumulative nanosecond counters pass 2^53 on long-lived cgroups.
 */

/** Above this a memory limit is "unlimited" (v1 reports PAGE_COUNTER_MAX rounded; cAdvisor's bound). */
const UNLIMITED = 1n << 62n;
/** cpuacct.stat counts USER_HZ ticks, 100 per second on every Linux architecture. */
const NS_PER_USER_HZ_TICK = 10_000_000n;

export interface PsiData {
  /** Total stall time, nanoseconds (the kernel counts microseconds). */
  total: bigint;
  avg10: number;
  avg60: number;
  avg300: number;
}

export interface Psi {
  some?: PsiData;
  full?: PsiData;
}

export interface CpuSample {
  /** Cumulative CPU time, nanoseconds. */
  usageNs: bigint;
  /** metrics only */
  userNs?: bigint;
  systemNs?: bigint;
  periods?: bigint;
  throttledPeriods?: bigint;
  throttledNs?: bigint;
  psi?: Psi;
}

export interface MemorySample {
  usage: bigint;
  /** usage - inactive file pages, floored at 0: what the kubelet evicts and OOM-ranks on. */
  workingSet: bigint;
  /** The cgroup's own limit; undefined when unlimited. */
  limit?: bigint;
  rss: bigint;
  cache: bigint;
  mappedFile: bigint;
  activeFile: bigint;
  inactiveFile: bigint;
  pgfault: bigint;
  pgmajfault: bigint;
  swap?: bigint;
  /** v2 only: memory.swap.max; undefined when unlimited. */
  swapLimit?: bigint;
  /** metrics only */
  maxUsage?: bigint;
  failcnt?: bigint;
  oomKills?: bigint;
  psi?: Psi;
}

export interface PidsSample {
  current: bigint;
  /** undefined when unlimited */
  max?: bigint;
}

export interface CgroupSample {
  /** Nanoseconds since the epoch, taken as the reads were issued. */
  timestamp: bigint;
  cpu?: CpuSample;
  memory?: MemorySample;
  pids?: PidsSample;
  /** v2 only: io.pressure */
  ioPsi?: Psi;
}

/**
 * What to read. "cpu": cumulative usage only (the background sampler); "stats": CPU, memory
 * and the process count, for ContainerStats and PodSandboxStats alike (so that the kubelet's
 * two list calls can share one sample); "pod": the same; "metrics": everything the
 * cAdvisor-named metrics need.
 */
export type ReadLevel = "cpu" | "stats" | "pod" | "metrics";

/** Which levels a sample read at a level also answers: each includes everything below it. */
export const LEVEL_RANK: Record<ReadLevel, number> = { cpu: 0, stats: 1, pod: 1, metrics: 2 };

/** Nanoseconds since the epoch, with the monotonic clock's sub-millisecond resolution. */
export function nowNs(): bigint {
  const ms = performance.timeOrigin + performance.now();
  return BigInt(Math.trunc(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1e6));
}

/** "key value" lines (memory.stat, cpu.stat, memory.events) into a map. */
export function parseFlatKeyed(text: string): Map<string, bigint> {
  // Scanned in place, without a split or a regex per line: memory.stat has ~40 lines and is
  // read for every container on every stats call.
  const values = new Map<string, bigint>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const space = text.indexOf(" ", start);
    if (space > start && space < end) {
      let from = space + 1;
      let to = end;
      while (from < to && isBlank(text.charCodeAt(from))) from++;
      while (to > from && isBlank(text.charCodeAt(to - 1))) to--;
      let digits = to > from;
      for (let i = from; digits && i < to; i++) {
        const c = text.charCodeAt(i);
        digits = c >= 48 && c <= 57;
      }
      if (digits) values.set(text.slice(start, space), BigInt(text.slice(from, to)));
    }
    start = end + 1;
  }
  return values;
}

const isBlank = (c: number) => c === 32 || c === 9 || c === 13;

/** A single-number file; "max" (v2's no limit) is undefined. */
export function parseScalar(text: string): bigint | undefined {
  const value = text.trim();
  if (value === "max") return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`not a cgroup number: ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** A limit as reported, undefined when it means "no limit". */
export function limitOf(value: bigint | undefined): bigint | undefined {
  return value === undefined || value > UNLIMITED ? undefined : value;
}

/** cpu.pressure / memory.pressure / io.pressure: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0". */
export function parsePsi(text: string): Psi {
  const psi: Psi = {};
  for (const line of text.split("\n")) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== "some" && kind !== "full") continue;
    const data: PsiData = { total: 0n, avg10: 0, avg60: 0, avg300: 0 };
    for (const field of fields) {
      const [key, value = ""] = field.split("=");
      if (key === "total" && /^\d+$/.test(value)) data.total = BigInt(value) * 1000n;
      else if (key === "avg10") data.avg10 = Number(value);
      else if (key === "avg60") data.avg60 = Number(value);
      else if (key === "avg300") data.avg300 = Number(value);
    }
    psi[kind] = data;
  }
  return psi;
}

export function workingSetOf(usage: bigint, inactiveFile: bigint): bigint {
  return usage > inactiveFile ? usage - inactiveFile : 0n;
}

const get = (values: Map<string, bigint>, key: string) => values.get(key) ?? 0n;

/** v1 memory from memory.usage_in_bytes, memory.limit_in_bytes and memory.stat (total_*: hierarchical). */
export function memoryV1(usage: bigint, limit: bigint, stat: Map<string, bigint>): MemorySample {
  const inactiveFile = get(stat, "total_inactive_file");
  return {
    usage,
    workingSet: workingSetOf(usage, inactiveFile),
    limit: limitOf(limit),
    rss: get(stat, "total_rss"),
    cache: get(stat, "total_cache"),
    mappedFile: get(stat, "total_mapped_file"),
    activeFile: get(stat, "total_active_file"),
    inactiveFile,
    pgfault: get(stat, "total_pgfault"),
    pgmajfault: get(stat, "total_pgmajfault"),
    swap: stat.get("total_swap"),
  };
}

/** v2 memory from memory.current, memory.max and memory.stat (always hierarchical). */
export function memoryV2(
  usage: bigint,
  limit: bigint | undefined,
  stat: Map<string, bigint>,
): MemorySample {
  const inactiveFile = get(stat, "inactive_file");
  return {
    usage,
    workingSet: workingSetOf(usage, inactiveFile),
    limit: limitOf(limit),
    // cAdvisor's and containerd's RSS on v2: anonymous memory.
    rss: get(stat, "anon"),
    cache: get(stat, "file"),
    mappedFile: get(stat, "file_mapped"),
    activeFile: get(stat, "active_file"),
    inactiveFile,
    pgfault: get(stat, "pgfault"),
    pgmajfault: get(stat, "pgmajfault"),
  };
}

/** Reads cgroup statistics through kept-open handles (see PreadFiles). */
export class CgroupReader {
  readonly #files: PreadFiles;

  constructor(files: PreadFiles) {
    this.#files = files;
  }

  /**
   * One cgroup's sample. `owner` groups the handles (the container or sandbox id) so they
   * are closed with it. Rejects when a needed file cannot be read (the cgroup is gone).
   */
  read(owner: string, dirs: CgroupDirs, level: ReadLevel): Promise<CgroupSample> {
    return dirs.version === 1 ? this.#readV1(owner, dirs, level) : this.#readV2(owner, dirs, level);
  }

  #text(owner: string, path: string): Promise<string> {
    return this.#files.read(owner, path);
  }

  /** A file that may not exist on this kernel or configuration: undefined then. */
  #optional(owner: string, path: string): Promise<string | undefined> {
    return this.#files.readOptional(owner, path);
  }

  async #readV1(owner: string, dirs: CgroupDirs, level: ReadLevel): Promise<CgroupSample> {
    const timestamp = nowNs();
    const need = (path: string) => this.#text(owner, path);
    const may = (dir: string, name: string) =>
      dir === "" ? Promise.resolve(undefined) : this.#optional(owner, `${dir}/${name}`);
    if (level === "cpu") {
      const usage = await need(`${dirs.cpuacct}/cpuacct.usage`);
      return { timestamp, cpu: { usageNs: parseScalar(usage) ?? 0n } };
    }
    const wantPids = LEVEL_RANK[level] >= 1;
    const metrics = level === "metrics";
    // All at once, and all awaited together: one failure must not leave the others unhandled.
    const [usage, memUsage, memLimit, memStat, pidsCurrent, extra] = await Promise.all([
      need(`${dirs.cpuacct}/cpuacct.usage`),
      need(`${dirs.memory}/memory.usage_in_bytes`),
      need(`${dirs.memory}/memory.limit_in_bytes`),
      need(`${dirs.memory}/memory.stat`),
      wantPids ? may(dirs.pids, "pids.current") : undefined,
      metrics
        ? Promise.all([
            may(dirs.cpuacct, "cpuacct.stat"),
            may(dirs.cpu, "cpu.stat"),
            may(dirs.memory, "memory.max_usage_in_bytes"),
            may(dirs.memory, "memory.failcnt"),
            may(dirs.memory, "memory.oom_control"),
            may(dirs.pids, "pids.max"),
          ])
        : undefined,
    ]);
    const memory = memoryV1(
      parseScalar(memUsage) ?? 0n,
      parseScalar(memLimit) ?? 0n,
      parseFlatKeyed(memStat),
    );
    const cpu: CpuSample = { usageNs: parseScalar(usage) ?? 0n };
    const sample: CgroupSample = { timestamp, cpu, memory };
    if (pidsCurrent !== undefined) sample.pids = { current: parseScalar(pidsCurrent) ?? 0n };
    if (extra) {
      const [cpuacctStat, cpuStat, maxUsage, failcnt, oomControl, pidsMax] = extra;
      if (cpuacctStat !== undefined) {
        const ticks = parseFlatKeyed(cpuacctStat);
        cpu.userNs = get(ticks, "user") * NS_PER_USER_HZ_TICK;
        cpu.systemNs = get(ticks, "system") * NS_PER_USER_HZ_TICK;
      }
      if (cpuStat !== undefined) {
        const stat = parseFlatKeyed(cpuStat);
        cpu.periods = get(stat, "nr_periods");
        cpu.throttledPeriods = get(stat, "nr_throttled");
        cpu.throttledNs = get(stat, "throttled_time");
      }
      if (maxUsage !== undefined) memory.maxUsage = parseScalar(maxUsage);
      if (failcnt !== undefined) memory.failcnt = parseScalar(failcnt);
      if (oomControl !== undefined) memory.oomKills = parseFlatKeyed(oomControl).get("oom_kill");
      if (sample.pids && pidsMax !== undefined) sample.pids.max = parseScalar(pidsMax);
    }
    return sample;
  }

  async #readV2(owner: string, dirs: CgroupDirs, level: ReadLevel): Promise<CgroupSample> {
    const timestamp = nowNs();
    const dir = dirs.memory;
    const need = (name: string) => this.#text(owner, `${dir}/${name}`);
    const may = (name: string) => this.#optional(owner, `${dir}/${name}`);
    if (level === "cpu") {
      const cpuStat = parseFlatKeyed(await need("cpu.stat"));
      return { timestamp, cpu: { usageNs: get(cpuStat, "usage_usec") * 1000n } };
    }
    const wantPids = LEVEL_RANK[level] >= 1;
    const metrics = level === "metrics";
    // The root cgroup has no memory.current/memory.max: berth never reads it.
    const [cpuStat, current, max, memStat, swap, swapMax, cpuPsi, memoryPsi, ioPsi, pids, extra] =
      await Promise.all([
        need("cpu.stat"),
        need("memory.current"),
        need("memory.max"),
        need("memory.stat"),
        may("memory.swap.current"),
        may("memory.swap.max"),
        may("cpu.pressure"),
        may("memory.pressure"),
        may("io.pressure"),
        wantPids ? may("pids.current") : undefined,
        metrics
          ? Promise.all([may("memory.peak"), may("memory.events"), may("pids.max")])
          : undefined,
      ]);
    const cpuValues = parseFlatKeyed(cpuStat);
    const cpu: CpuSample = { usageNs: get(cpuValues, "usage_usec") * 1000n };
    if (metrics) {
      cpu.userNs = get(cpuValues, "user_usec") * 1000n;
      cpu.systemNs = get(cpuValues, "system_usec") * 1000n;
      cpu.periods = get(cpuValues, "nr_periods");
      cpu.throttledPeriods = get(cpuValues, "nr_throttled");
      cpu.throttledNs = get(cpuValues, "throttled_usec") * 1000n;
    }
    const memory = memoryV2(parseScalar(current) ?? 0n, parseScalar(max), parseFlatKeyed(memStat));
    if (swap !== undefined) memory.swap = parseScalar(swap);
    if (swapMax !== undefined) memory.swapLimit = limitOf(parseScalar(swapMax));
    if (cpuPsi !== undefined) cpu.psi = parsePsi(cpuPsi);
    if (memoryPsi !== undefined) memory.psi = parsePsi(memoryPsi);
    const sample: CgroupSample = { timestamp, cpu, memory };
    if (ioPsi !== undefined) sample.ioPsi = parsePsi(ioPsi);
    if (pids !== undefined) sample.pids = { current: parseScalar(pids) ?? 0n };
    if (extra) {
      const [peak, events, pidsMax] = extra;
      if (peak !== undefined) memory.maxUsage = parseScalar(peak);
      if (events !== undefined) {
        const values = parseFlatKeyed(events);
        memory.oomKills = values.get("oom_kill");
        // v2 has no failcnt; memory.events "max" counts the times usage hit the limit.
        memory.failcnt = values.get("max");
      }
      if (sample.pids && pidsMax !== undefined) sample.pids.max = parseScalar(pidsMax);
    }
    return sample;
  }
}

/** The sum of several cgroups' samples: a pod without a pod cgroup of its own. */
export function sumSamples(samples: CgroupSample[], timestamp: bigint): CgroupSample {
  const sum: CgroupSample = { timestamp };
  for (const sample of samples) {
    if (sample.cpu) {
      sum.cpu ??= { usageNs: 0n };
      sum.cpu.usageNs += sample.cpu.usageNs;
    }
    if (sample.memory) {
      const m = sample.memory;
      if (!sum.memory) {
        sum.memory = {
          usage: 0n,
          workingSet: 0n,
          rss: 0n,
          cache: 0n,
          mappedFile: 0n,
          activeFile: 0n,
          inactiveFile: 0n,
          pgfault: 0n,
          pgmajfault: 0n,
        };
      }
      const s = sum.memory;
      s.usage += m.usage;
      s.workingSet += m.workingSet;
      s.rss += m.rss;
      s.cache += m.cache;
      s.mappedFile += m.mappedFile;
      s.activeFile += m.activeFile;
      s.inactiveFile += m.inactiveFile;
      s.pgfault += m.pgfault;
      s.pgmajfault += m.pgmajfault;
      if (m.swap !== undefined) s.swap = (s.swap ?? 0n) + m.swap;
    }
    if (sample.pids) {
      sum.pids ??= { current: 0n };
      sum.pids.current += sample.pids.current;
    }
  }
  return sum;
}
