import { cpuSeconds, shimsOf } from "./proc.ts";

/** The processes whose CPU counts, asked for again at every sample (shims come and go). */
export interface ProcessGroups {
  runtime: number[];
  engine: number[];
  /** containerd's address: its shims are those started with `-address` on it. */
  shimAddress?: string;
}

type Group = "runtime" | "engine" | "shims" | "total";

/** CPU seconds per minute over a phase, overall and per window (median and p90 of windows). */
export interface CpuWindows {
  seconds: number;
  /** Over the whole phase. */
  perMinute: Record<Group, number>;
  medianPerMinute: Record<Group, number>;
  p90PerMinute: Record<Group, number>;
  windows: Array<Record<Group, number>>;
}

const WINDOW_SECONDS = 10;

/**
 * Per-process CPU from /proc/PID/stat, sampled every 10 s over a phase. CPU-seconds survive a
 * loaded machine better than latencies: they count what the process did, not how long it waited.
 */
export class CpuMeter {
  private readonly groups: () => ProcessGroups;

  constructor(groups: () => ProcessGroups) {
    this.groups = groups;
  }

  private sample(): { at: number; values: Record<Group, number>; shims: Map<number, number> } {
    const g = this.groups();
    const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
    const shims = new Map<number, number>();
    for (const pid of g.shimAddress ? shimsOf(g.shimAddress) : []) shims.set(pid, cpuSeconds(pid));
    const runtime = sum(g.runtime);
    const engine = sum(g.engine);
    return {
      at: performance.now(),
      values: { runtime, engine, shims: 0, total: runtime + engine },
      shims,
    };
  }

  /** Samples for `seconds` from now; resolves when the phase is over. */
  async during(seconds: number): Promise<CpuWindows> {
    const samples = [this.sample()];
    const started = samples[0]?.at as number;
    for (let t = WINDOW_SECONDS; t <= seconds; t += WINDOW_SECONDS) {
      const wait = started + t * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      samples.push(this.sample());
    }
    if (seconds % WINDOW_SECONDS !== 0) {
      const wait = started + seconds * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      samples.push(this.sample());
    }
    const rate = (from: (typeof samples)[number], to: (typeof samples)[number]) => {
      const minutes = (to.at - from.at) / 60_000;
      // Shims alive at both ends only: one that started or ended inside has no baseline.
      let shims = 0;
      for (const [pid, cpu] of to.shims) {
        const before = from.shims.get(pid);
        if (before !== undefined) shims += cpu - before;
      }
      const runtime = (to.values.runtime - from.values.runtime) / minutes;
      const engine = (to.values.engine - from.values.engine) / minutes;
      return { runtime, engine, shims: shims / minutes, total: runtime + engine };
    };
    const windows: Array<Record<Group, number>> = [];
    for (let i = 1; i < samples.length; i++)
      windows.push(rate(samples[i - 1] as never, samples[i] as never));
    const order = (group: Group, q: number) => {
      const sorted = windows.map((w) => w[group]).sort((a, b) => a - b);
      return round(
        sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0,
      );
    };
    const groups: Group[] = ["runtime", "engine", "shims", "total"];
    const overall = rate(samples[0] as never, samples[samples.length - 1] as never);
    return {
      seconds,
      perMinute: Object.fromEntries(groups.map((g) => [g, round(overall[g])])) as Record<
        Group,
        number
      >,
      medianPerMinute: Object.fromEntries(groups.map((g) => [g, order(g, 0.5)])) as Record<
        Group,
        number
      >,
      p90PerMinute: Object.fromEntries(groups.map((g) => [g, order(g, 0.9)])) as Record<
        Group,
        number
      >,
      windows: windows.map(
        (w) => Object.fromEntries(groups.map((g) => [g, round(w[g])])) as Record<Group, number>,
      ),
    };
  }
}

const round = (value: number) => Math.round(value * 1000) / 1000;
