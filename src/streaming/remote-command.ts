import type { Readable, Writable } from "node:stream";
import type { CommandOutcome, TerminalSize } from "./command-status.ts";

/** Which streams an exec or attach session carries, from the CRI request. */
export interface StreamFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/**
 * An exec or attach session's client side once the protocol handshake is done, the same for
 * SPDY and WebSocket: the Docker side (exec-session.ts, attach-session.ts) only sees this.
 */
export interface RemoteCommandStreams {
  /** What the client types; ends on the client's stdin EOF. */
  stdin: Readable | undefined;
  stdout: Writable | undefined;
  stderr: Writable | undefined;
  /** Terminal sizes as the client reports them (tty sessions). */
  onResize(listener: (size: TerminalSize) => void): void;
  /** Aborted when the client goes away before the session finished. */
  clientGone: AbortSignal;
  /** Flushes the output, reports the outcome and closes the connection. */
  finish(outcome: CommandOutcome): Promise<void>;
}

/**
 * Terminal sizes as a client reports them. The client sends its size as soon as the stream
 * is up, usually before the process has started: the latest size is kept for whoever listens
 * later.
 */
export class TerminalSizes {
  readonly #listeners: Array<(size: TerminalSize) => void> = [];
  #last: TerminalSize | undefined;

  report(size: TerminalSize): void {
    this.#last = size;
    for (const listener of this.#listeners) listener(size);
  }

  listen(listener: (size: TerminalSize) => void): void {
    this.#listeners.push(listener);
    if (this.#last) listener(this.#last);
  }
}

/** Ends a writable and resolves once its data is out (or it was destroyed). */
export function endWritable(stream: Writable | undefined): Promise<void> {
  if (!stream || stream.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off("finish", done);
      stream.off("close", done);
      resolve();
    };
    stream.once("finish", done);
    stream.once("close", done);
    stream.end();
  });
}

/** Resolves after ms, or at once when the signal is aborted. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
