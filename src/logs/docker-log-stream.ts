import { type LogEntry, type LogStream, parseTimestamp } from "./cri-log-format.ts";

/**
 * Parsers for the body of `GET /containers/{id}/logs?timestamps=1`. The engine writes each
 * logged message as `<RFC3339Nano, 9 digits> <content>`, the content ending in "\n" when the
 * message ended a line (Docker's log copier cuts lines at 16 KiB and at the end of the output;
 * those pieces come without "\n").
 *
 * - Without a TTY the body is multiplexed: every message is one frame, an 8-byte header (stream
 *   1 stdout, 2 stderr, 3 the engine's own errors; 3 zero bytes; u32 big-endian length) and
 *   the payload. Message boundaries are exact.
 * - With a TTY the body is the messages back to back, all stdout. A message ends at its "\n";
 *   a piece without one is either the last message of the output or a 16 KiB piece of a long
 *   line, which ends where the next message's timestamp starts (at 16 KiB, later only when the
 *   json-file driver widened invalid UTF-8 to U+FFFD).
 */
export interface LogStreamParser {
  /** Feeds bytes of the body; answers the messages completed by them. */
  push(chunk: Buffer): LogEntry[];
  /** The body ended: answers what is left (a message without "\n" is a partial one). */
  end(): LogEntry[];
}

/** Receives the engine's in-band errors ("Error grabbing logs: …"). */
export type EngineErrorHandler = (message: string) => void;

const HEADER = 8;
/** Docker's log copier buffer: a line longer than this is logged in pieces of this size. */
export const DOCKER_PIECE_SIZE = 16 * 1024;

export function logStreamParser(tty: boolean, onEngineError: EngineErrorHandler): LogStreamParser {
  return tty ? new RawParser(onEngineError) : new MultiplexedParser(onEngineError);
}

/** Splits `<timestamp> <content>` into a log entry; undefined when there is no timestamp. */
export function entryOf(stream: LogStream, message: Buffer): LogEntry | undefined {
  const space = message.indexOf(0x20);
  if (space < 0 || space > 40) return undefined;
  const timestamp = parseTimestamp(message.subarray(0, space).toString("latin1"));
  if (timestamp === undefined) return undefined;
  let content = message.subarray(space + 1);
  const complete = content.at(-1) === 0x0a;
  if (complete) {
    // As containerd's reader does: "\r\n" ends a line too (a TTY writes it for every "\n").
    const cut = content.at(-2) === 0x0d ? 2 : 1;
    content = content.subarray(0, content.length - cut);
  }
  return { timestamp, stream, content, complete };
}

/**
 * What both stream formats share: bytes are kept until a whole message has arrived; each
 * format says how long its first message is and what a message holds.
 */
abstract class BufferedParser implements LogStreamParser {
  #pending: Buffer = Buffer.alloc(0);
  protected readonly onEngineError: EngineErrorHandler;

  constructor(onEngineError: EngineErrorHandler) {
    this.onEngineError = onEngineError;
  }

  /** The length of the first message in `data`, or undefined until more bytes arrive. */
  protected abstract messageLength(data: Buffer): number | undefined;
  protected abstract take(message: Buffer, entries: LogEntry[]): void;
  /** The body ended with `rest` (not empty) unparsed. */
  protected abstract takeRest(rest: Buffer, entries: LogEntry[]): void;

  push(chunk: Buffer): LogEntry[] {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const entries: LogEntry[] = [];
    for (;;) {
      const length = this.messageLength(data);
      if (length === undefined) break;
      this.take(data.subarray(0, length), entries);
      data = data.subarray(length);
    }
    // Keep only the unparsed tail, not the whole chunk it may share memory with.
    this.#pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
    return entries;
  }

  end(): LogEntry[] {
    const entries: LogEntry[] = [];
    if (this.#pending.length > 0) this.takeRest(this.#pending, entries);
    this.#pending = Buffer.alloc(0);
    return entries;
  }
}

class MultiplexedParser extends BufferedParser {
  protected override messageLength(data: Buffer): number | undefined {
    if (data.length < HEADER) return undefined;
    const length = HEADER + data.readUInt32BE(4);
    return data.length < length ? undefined : length;
  }

  protected override take(frame: Buffer, entries: LogEntry[]): void {
    const type = frame[0];
    const payload = frame.subarray(HEADER);
    if (type === 1 || type === 2) {
      const entry = entryOf(type === 1 ? "stdout" : "stderr", payload);
      if (entry) entries.push(entry);
      else this.onEngineError(`log message without a timestamp: ${preview(payload)}`);
    } else {
      this.onEngineError(payload.toString("utf8").trim());
    }
  }

  protected override takeRest(rest: Buffer): void {
    this.onEngineError(`log stream ended inside a frame (${rest.length} bytes left)`);
  }
}

/**
 * The start of a timestamp as the engine writes it (RFC3339NanoFixed, UTC or the engine's
 * zone) followed by its space: where a 16 KiB piece of a long TTY line ends.
 */
const TIMESTAMP_AHEAD = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(?:Z|[+-]\d\d:\d\d) /;
/** Longer than any timestamp and its space. */
const TIMESTAMP_ROOM = 40;

class RawParser extends BufferedParser {
  protected override take(message: Buffer, entries: LogEntry[]): void {
    const entry = entryOf("stdout", message);
    if (entry) entries.push(entry);
    else this.onEngineError(message.toString("utf8").trim());
  }

  /** A raw stream's last message may lack its newline: a partial line. */
  protected override takeRest(rest: Buffer, entries: LogEntry[]): void {
    this.take(rest, entries);
  }

  protected override messageLength(data: Buffer): number | undefined {
    if (data.length === 0) return undefined;
    const space = data.subarray(0, TIMESTAMP_ROOM).indexOf(0x20);
    if (space < 0) {
      if (data.length < TIMESTAMP_ROOM) return undefined;
      // Not a timestamp: an engine error line, which the raw stream carries in band.
      const newline = data.indexOf(0x0a);
      return newline < 0 ? undefined : newline + 1;
    }
    const start = space + 1;
    const newline = data.indexOf(0x0a, start);
    const searchFrom = start + DOCKER_PIECE_SIZE;
    if (newline >= 0 && newline < searchFrom) return newline + 1;
    // Past 16 KiB without a newline: this is a piece, ended by the next message's timestamp
    // (unless a newline comes first, which happens only for a line widened by U+FFFD).
    const end = newline < 0 ? data.length : newline;
    if (end > searchFrom) {
      const found = data.subarray(searchFrom, end).toString("latin1").search(TIMESTAMP_AHEAD);
      if (found >= 0) return searchFrom + found;
    }
    return newline < 0 ? undefined : newline + 1;
  }
}

function preview(data: Buffer): string {
  return JSON.stringify(data.subarray(0, 80).toString("utf8"));
}
