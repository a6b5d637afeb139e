/**
 * usage_nano_cores: the CPU rate (cores × 1e9) between the current cumulative sample and an
 * earlier one, as cAdvisor's "instantaneous" usage and containerd compute it.
 *
 * Several callers poll stats (the kubelet's eviction manager every 10 s, its summary API on
 * every metrics-server scrape, crictl), often a few milliseconds apart. A rate over the
 * interval since the last call would be noise for the second caller, so the rate is taken
 * against the newest earlier sample at least `minWindowNs` old (1 s). Samples come from the
 * calls themselves and from berth's background sampler (every 10 s, the kubelet's cAdvisor
 * housekeeping interval) for series the calls do not keep fresh, which also gives a value on
 * the first call: the rate is absent only until a sample 1 s older exists, and the kubelet then
 * computes it from its own cache, as it does for runtimes that never send one.
 */

export interface CpuPoint {
  timestamp: bigint;
  usageNs: bigint;
}

export interface CpuRateOptions {
  /** The shortest interval a rate is computed over. */
  minWindowNs?: bigint;
  /** Samples closer than this to the one before the newest replace the newest. */
  coalesceNs?: bigint;
  /** A series not sampled for this long is dropped (its owner is gone). */
  maxAgeNs?: bigint;
}

const NS_PER_S = 1_000_000_000n;

export class CpuRates {
  readonly #series = new Map<string, CpuPoint[]>();
  readonly #minWindow: bigint;
  readonly #coalesce: bigint;
  readonly #maxAge: bigint;

  constructor(options: CpuRateOptions = {}) {
    this.#minWindow = options.minWindowNs ?? NS_PER_S;
    this.#coalesce = options.coalesceNs ?? NS_PER_S / 10n;
    this.#maxAge = options.maxAgeNs ?? 10n * 60n * NS_PER_S;
  }

  /**
   * Records a sample and answers the rate in nano-cores since the newest sample at least the
   * minimum window older, or undefined when there is none or the counter went back (a
   * restarted cgroup).
   */
  observe(id: string, point: CpuPoint): bigint | undefined {
    let series = this.#series.get(id);
    if (!series) {
      series = [];
      this.#series.set(id, series);
    }
    const rate = this.#rate(series, point);
    this.#add(series, point);
    return rate;
  }

  /** The rate the sample would give, without recording it. */
  peek(id: string, point: CpuPoint): bigint | undefined {
    const series = this.#series.get(id);
    return series ? this.#rate(series, point) : undefined;
  }

  /** Whether the series has a sample taken at or after `since` (ns). */
  sampledSince(id: string, since: bigint): boolean {
    const newest = this.#series.get(id)?.at(-1);
    return newest !== undefined && newest.timestamp >= since;
  }

  forget(id: string): void {
    this.#series.delete(id);
  }

  /** Drops series not sampled within the maximum age, e.g. of owners that are gone. */
  prune(now: bigint): void {
    for (const [id, series] of this.#series) {
      const newest = series.at(-1);
      if (!newest || now - newest.timestamp > this.#maxAge) this.#series.delete(id);
    }
  }

  get size(): number {
    return this.#series.size;
  }

  /** Samples kept for one series (tests). */
  samplesOf(id: string): number {
    return this.#series.get(id)?.length ?? 0;
  }

  #rate(series: CpuPoint[], point: CpuPoint): bigint | undefined {
    const threshold = point.timestamp - this.#minWindow;
    let base: CpuPoint | undefined;
    for (let i = series.length - 1; i >= 0; i--) {
      const candidate = series[i] as CpuPoint;
      if (candidate.timestamp <= threshold) {
        base = candidate;
        break;
      }
    }
    if (!base || point.timestamp - base.timestamp > this.#maxAge) return undefined;
    if (point.usageNs < base.usageNs) return undefined;
    const interval = point.timestamp - base.timestamp;
    return ((point.usageNs - base.usageNs) * NS_PER_S) / interval;
  }

  #add(series: CpuPoint[], point: CpuPoint): void {
    const newest = series.at(-1);
    if (newest && point.timestamp < newest.timestamp) return; // out of order: keep the newer
    if (newest && point.usageNs < newest.usageNs) series.length = 0; // counter reset
    // The newest sample moves while it is close to the one before it: kept samples stay at
    // least `coalesce` apart, however often callers come.
    const anchor = series.at(-2);
    if (anchor && point.timestamp - anchor.timestamp < this.#coalesce) {
      series[series.length - 1] = point;
    } else {
      series.push(point);
    }
    // Keep the newest sample at least a window old and everything newer: any later sample's
    // base is among them. Coalescing bounds the newer ones to about window / coalesce.
    const threshold = point.timestamp - this.#minWindow;
    let keepFrom = 0;
    for (let i = series.length - 1; i >= 0; i--) {
      if ((series[i] as CpuPoint).timestamp <= threshold) {
        keepFrom = i;
        break;
      }
    }
    if (keepFrom > 0) series.splice(0, keepFrom);
  }
}
