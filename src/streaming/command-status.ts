/**
 * How an exec or attach session ended, and how the protocols report it on the error stream
 * (SPDY) or error channel (WebSocket). Pure functions, unit-tested.
 */

export type CommandOutcome =
  | { kind: "success" }
  | { kind: "exit"; code: number }
  | { kind: "error"; message: string };

/**
 * v4 and v5 carry a JSON metav1.Status. The client turns reason NonZeroExitCode with an
 * ExitCode cause into the exit code it reports (the Go cause's `type` field is serialised as
 * `reason`); anything else it reports as an error with the message.
 */
export function statusJson(outcome: CommandOutcome): string {
  switch (outcome.kind) {
    case "success":
      return JSON.stringify({ metadata: {}, status: "Success" });
    case "exit":
      return JSON.stringify({
        metadata: {},
        status: "Failure",
        message: `command terminated with non-zero exit code: exit status ${outcome.code}`,
        reason: "NonZeroExitCode",
        details: { causes: [{ reason: "ExitCode", message: String(outcome.code) }] },
      });
    case "error":
      return JSON.stringify({
        metadata: {},
        status: "Failure",
        message: `Internal error occurred: ${outcome.message}`,
        reason: "InternalError",
        details: { causes: [{ message: outcome.message }] },
        code: 500,
      });
  }
}

/** v1 to v3: nothing on success, the error's text otherwise. */
export function legacyStatusText(outcome: CommandOutcome): string {
  switch (outcome.kind) {
    case "success":
      return "";
    case "exit":
      return `command terminated with non-zero exit code: exit status ${outcome.code}`;
    case "error":
      return `Internal error occurred: ${outcome.message}`;
  }
}

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * Terminal sizes as the resize stream carries them: JSON objects `{"Width":W,"Height":H}`,
 * newline-separated by Go's encoder, arriving split anywhere. Objects are found by brace
 * depth (outside strings), so a missing newline does not matter either.
 */
export class ResizeDecoder {
  #text = "";
  /** A client sending one unterminated object forever is cut off here. */
  static readonly MAX_PENDING = 4096;

  push(chunk: Buffer | string): TerminalSize[] {
    this.#text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    const sizes: TerminalSize[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.#text.length; i++) {
      const c = this.#text[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === "{") {
        if (depth === 0) start = i;
        depth++;
      } else if (c === "}" && depth > 0) {
        depth--;
        if (depth === 0) {
          const size = parseSize(this.#text.slice(start, i + 1));
          if (size) sizes.push(size);
          consumed = i + 1;
        }
      } else if (depth === 0) {
        consumed = i + 1; // whitespace or junk between objects
      }
    }
    this.#text = this.#text.slice(consumed);
    if (this.#text.length > ResizeDecoder.MAX_PENDING) this.#text = "";
    return sizes;
  }
}

function parseSize(text: string): TerminalSize | undefined {
  try {
    const value = JSON.parse(text) as { Width?: unknown; Height?: unknown };
    const width = Number(value.Width);
    const height = Number(value.Height);
    if (!Number.isInteger(width) || !Number.isInteger(height)) return undefined;
    if (width <= 0 || height <= 0 || width > 0xffff || height > 0xffff) return undefined;
    return { width, height };
  } catch {
    return undefined;
  }
}
