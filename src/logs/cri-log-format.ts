/**
 * The CRI container log format the kubelet reads (`kubectl logs`, its own rotation):
 *
 *   2016-10-06T00:17:09.669794202Z stdout P log content 1
 *   2016-10-06T00:17:09.669794203Z stderr F log content 2
 *
 * one line per chunk: timestamp, stream, tag, a space each, then the content and "\n". `F` ends
 * a line of the container's output (its newline is not part of the content); `P` is a piece of
 * a longer line, continued by the next line of the same stream. Output that ends without a
 * newline ends with a `P` line, as containerd writes it. Content is bytes, never decoded: a
 * split may fall inside a UTF-8 sequence, and the kubelet joins the pieces back byte for byte.
 */

export type LogStream = "stdout" | "stderr";
export type LogTag = "P" | "F";

/** containerd's default `max_container_log_line_size`, and Docker's own split size. */
export const DEFAULT_MAX_LINE_SIZE = 16 * 1024;

export interface CriLogLine {
  /** Nanoseconds since the Unix epoch. */
  timestamp: bigint;
  stream: LogStream;
  tag: LogTag;
  /** Without the line's newline. */
  content: Buffer;
}

/** One message of the container's output, as the engine logged it. */
export interface LogEntry {
  timestamp: bigint;
  stream: LogStream;
  /** Without the newline (and without a "\r" before it). */
  content: Buffer;
  /** The output had a newline here; false for a piece of a longer line or trailing output. */
  complete: boolean;
}

const NANOS_PER_SECOND = 1_000_000_000n;
const NANOS_PER_MILLI = 1_000_000n;

/**
 * Go's `time.RFC3339Nano` in UTC, which is what containerd writes: the fraction's trailing
 * zeros are trimmed, and a whole second has no fraction at all.
 */
export function formatTimestamp(nanos: bigint): string {
  if (nanos < 0n) throw new RangeError(`timestamp before 1970: ${nanos}`);
  const seconds = nanos / NANOS_PER_SECOND;
  const fraction = nanos % NANOS_PER_SECOND;
  // Consecutive lines mostly share their second: format it once (a hot path).
  if (seconds !== formatted.seconds) {
    formatted.seconds = seconds;
    formatted.text = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  }
  const base = formatted.text;
  if (fraction === 0n) return `${base}Z`;
  return `${base}.${fraction.toString().padStart(9, "0").replace(/0+$/, "")}Z`;
}

const formatted = { seconds: -1n, text: "" };

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses what Go's `time.Parse(time.RFC3339Nano, …)` accepts (the kubelet's parser): any
 * number of fraction digits (nanoseconds kept, further digits dropped), `Z` or a numeric
 * offset (Docker's `local` driver answers in the engine's time zone). Undefined if invalid.
 */
export function parseTimestamp(text: string): bigint | undefined {
  // The engine's stamps: mostly UTC, nine digits, the same second as the one before.
  if (text.length === 30 && text.charCodeAt(29) === 0x5a && text.startsWith(parsed.prefix)) {
    const fraction = text.slice(20, 29);
    if (text.charCodeAt(19) === 0x2e && /^\d{9}$/.test(fraction)) {
      return parsed.seconds + BigInt(fraction);
    }
  }
  const nanos = parseRfc3339(text);
  if (nanos !== undefined && text.length === 30 && text.endsWith("Z")) {
    parsed.prefix = text.slice(0, 19);
    parsed.seconds = nanos - (nanos % NANOS_PER_SECOND);
  }
  return nanos;
}

const parsed = { prefix: "\u0000", seconds: 0n };

function parseRfc3339(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Not Date.UTC: it reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second);
  // 31 April rolls over into May; Go rejects it.
  if (date.getUTCDate() !== day) return undefined;
  const millis = date.getTime();
  let offsetMinutes = 0;
  if (m[8] !== "Z") {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const fraction = BigInt((m[7] ?? "").slice(0, 9).padEnd(9, "0"));
  return BigInt(millis - offsetMinutes * 60_000) * NANOS_PER_MILLI + fraction;
}

/** Docker's `since` query parameter: "seconds.nanoseconds", exact to the nanosecond. */
export function dockerSince(nanos: bigint): string {
  const fraction = (nanos % NANOS_PER_SECOND).toString().padStart(9, "0");
  return `${nanos / NANOS_PER_SECOND}.${fraction}`;
}

/** The bytes of one CRI log line, newline included. */
export function formatCriLine(line: CriLogLine): Buffer {
  const head = Buffer.from(`${formatTimestamp(line.timestamp)} ${line.stream} ${line.tag} `);
  return Buffer.concat([head, line.content, NEWLINE]);
}

const NEWLINE = Buffer.from("\n");

/**
 * The CRI lines for one logged message: content longer than `maxLineSize` (0: no limit) is cut
 * into `P` lines of exactly that size, as containerd cuts them, the last piece tagged by whether
 * the message ended a line. An empty piece that ends no line carries nothing and is dropped.
 */
export function criLinesOf(entry: LogEntry, maxLineSize = DEFAULT_MAX_LINE_SIZE): CriLogLine[] {
  const { timestamp, stream, content } = entry;
  if (content.length === 0 && !entry.complete) return [];
  const lines: CriLogLine[] = [];
  let offset = 0;
  if (maxLineSize > 0) {
    while (content.length - offset > maxLineSize) {
      lines.push({
        timestamp,
        stream,
        tag: "P",
        content: content.subarray(offset, offset + maxLineSize),
      });
      offset += maxLineSize;
    }
  }
  lines.push({
    timestamp,
    stream,
    tag: entry.complete ? "F" : "P",
    content: offset === 0 ? content : content.subarray(offset),
  });
  return lines;
}

/**
 * Parses one line of a CRI log file (without or with its newline) as the kubelet does:
 * timestamp, stream and tag separated by single spaces; tags may carry `:`-separated
 * extensions, and only a first tag of `P` means partial. Undefined when the kubelet would
 * reject the line.
 */
export function parseCriLine(line: Buffer): CriLogLine | undefined {
  let rest = line.at(-1) === 0x0a ? line.subarray(0, -1) : line;
  const fields: string[] = [];
  for (let i = 0; i < 3; i++) {
    const space = rest.indexOf(0x20);
    if (space < 0) return undefined;
    fields.push(rest.subarray(0, space).toString("latin1"));
    rest = rest.subarray(space + 1);
  }
  const [time, stream, tags] = fields as [string, string, string];
  const timestamp = parseTimestamp(time);
  if (timestamp === undefined) return undefined;
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  const tag: LogTag = tags.split(":")[0] === "P" ? "P" : "F";
  return { timestamp, stream, tag, content: rest };
}
