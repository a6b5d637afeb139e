/**
 * Docker reports times as RFC 3339 with nanoseconds ("2026-11-23T00:03:33.123456789Z");
 * the CRI wants integer nanoseconds. Date keeps only milliseconds, so the fraction is
 * carried separately. Go's zero time (year 1) means "never" and becomes 0.
 */
export function rfc3339ToNanos(text: string | undefined): bigint {
  if (!text || text.startsWith("0001-01-01")) return 0n;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(
    text,
  );
  if (!match) {
    const millis = Date.parse(text);
    return Number.isNaN(millis) ? 0n : BigInt(millis) * 1_000_000n;
  }
  const seconds = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(seconds)) return 0n;
  const fraction = BigInt((match[2] ?? "").padEnd(9, "0"));
  return BigInt(seconds) * 1_000_000n + fraction;
}

export function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
