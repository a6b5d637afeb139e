/**
 * Flag values written the way cri-dockerd's Go flags (spf13/pflag on Go's strconv and time
 * packages) take them, so a unit's ExecStart line or an operator's habit carries over as is.
 */

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** strconv.ParseBool. */
export function parseGoBool(text: string): boolean {
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  throw new Error(`${JSON.stringify(text)} is not a boolean (true or false)`);
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * time.ParseDuration, answered in milliseconds: "1m30s", "1.5h", "300ms", "0". Negative
 * durations parse, as in Go; the options that cannot take one refuse it themselves.
 */
export function parseGoDuration(text: string): number {
  const bad = () =>
    new Error(`${JSON.stringify(text)} is not a duration (examples: 300ms, 30s, 2m0s, 1h30m)`);
  const match = /^([-+]?)(.*)$/s.exec(text);
  const sign = match?.[1] === "-" ? -1 : 1;
  const body = match?.[2] ?? "";
  if (body === "0") return 0;
  if (body === "") throw bad();
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const found = part.exec(body);
    if (!found) throw bad();
    total += Number(found[1]) * (DURATION_UNITS_MS[found[2] ?? ""] ?? Number.NaN);
    at = part.lastIndex;
  }
  if (!Number.isFinite(total)) throw bad();
  return sign * total;
}

/** time.Duration.String() for a whole number of milliseconds: "2m0s", "1h0m0s", "500ms", "0s". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${trimNumber(rest)}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = `${trimNumber(rest / 1000)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

function trimNumber(value: number): string {
  return String(Math.round(value * 1e9) / 1e9);
}

/** strconv.ParseInt(text, 0, 32), as pflag's Int32Var: decimal, 0x/0o/0b and 0-octal. */
export function parseGoInt32(text: string): number {
  const match = /^([-+]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(
    text,
  );
  const digits = match?.[2];
  if (!match || digits === undefined || /__|_$/.test(digits)) {
    throw new Error(`${JSON.stringify(text)} is not an integer`);
  }
  const clean = digits.replaceAll("_", "");
  const octal = /^0[0-7]+$/.test(clean) ? `0o${clean.slice(1)}` : clean;
  const value = (match[1] === "-" ? -1 : 1) * Number(octal);
  if (!Number.isSafeInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) {
    throw new Error(`${JSON.stringify(text)} is out of range for a 32-bit integer`);
  }
  return value;
}
