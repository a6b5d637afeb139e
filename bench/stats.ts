/** Order statistics for benchmark samples (milliseconds). */
export interface Summary {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => {
    if (sorted.length === 0) return Number.NaN;
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[index] as number;
  };
  return {
    n: sorted.length,
    median: at(0.5),
    p90: at(0.9),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export async function timed<T>(samples: number[], operation: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await operation();
  samples.push(performance.now() - started);
  return result;
}
