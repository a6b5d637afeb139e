import type { FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import { isNotFound } from "../docker/errors.ts";
import type { ContainerInspect, HostConfig } from "../docker/types.ts";
import { failedPrecondition, internal, isErrorKind, messageOf } from "../errors.ts";
import { containerLogCopyLag, containerLogDroppedBytes } from "../metrics/instruments.ts";
import {
  type CriLogLine,
  criLinesOf,
  DEFAULT_MAX_LINE_SIZE,
  dockerSince,
  formatCriLine,
  type LogEntry,
} from "./cri-log-format.ts";
import { logStreamParser } from "./docker-log-stream.ts";
import { cutTornTail, openLogFile, readWrittenTail } from "./log-file.ts";
import { type LineKey, Replay, ResumeWindow, sameLine } from "./log-resume.ts";

/**
 * The log driver berth gives every container (HostConfig.LogConfig). The engine keeps the
 * output in its own file from the first byte, whether or not berth is listening, so a writer
 * started late, or again after a berth restart, still gets everything. json-file, not local:
 * Docker 20.10's local driver drops the newline that ends a line longer than 16 KiB, which
 * would glue it to the next line; json-file keeps it (but turns invalid UTF-8 into U+FFFD).
 * Small, as this copy only has to bridge the time berth is not following; the kubelet
 * rotates the CRI file itself.
 */
export const CONTAINER_LOG_CONFIG: NonNullable<HostConfig["LogConfig"]> = {
  Type: "json-file",
  Config: { "max-size": "10m", "max-file": "2" },
};

/** How many of the engine's last messages are compared with the file once a container ended. */
const CHECK_TAIL = 256;

/** Why a writer ended. */
export type WriterOutcome =
  /** The container stopped and all its output is in the file. */
  | "exited"
  /** The container is gone from the engine (with its output). */
  | "removed"
  /** stop() was called. */
  | "stopped"
  /** The engine cannot read this container's log (a driver other than json-file/local). */
  | "unreadable";

export interface ContainerLogWriterOptions {
  /** Carries the follow stream: one connection for as long as the container runs. */
  docker: DockerEngine;
  containerId: string;
  /** `<sandbox log_directory>/<container log_path>`. */
  path: string;
  logger: Logger;
  /** Longer lines are cut into `P` pieces; containerd's default. 0: never cut. */
  maxLineSize?: number;
}

/**
 * Copies one container's output from the engine into its CRI log file, from its first byte
 * (or, for a file written before, from where that file ends) until the container stops.
 *
 * The writer follows `GET /containers/{id}/logs?follow=1&timestamps=1&since=…`. When that
 * stream ends it looks at the container: still running (the engine restarted, say), it
 * follows again from where the file ends; exited, it compares the engine's last lines with the
 * file's and, should they differ, reads the engine's log once more from where the file ends
 * (Docker 20.10 ends a follow at the container's exit without reading a log file it rotated
 * meanwhile). A container not started yet is polled until it starts.
 */
export class ContainerLogWriter {
  readonly containerId: string;
  readonly path: string;
  /** Settles (never rejects) when the writer ended, and its file is closed. */
  readonly finished: Promise<WriterOutcome>;

  readonly #docker: DockerEngine;
  readonly #log: Logger;
  readonly #maxLineSize: number;
  readonly #abort = new AbortController();
  #file: FileHandle | undefined;
  /** Serialises writes, reopen and close on the file. */
  #fileQueue: Promise<unknown> = Promise.resolve();
  #window: ResumeWindow | undefined;
  #outcome: WriterOutcome | undefined;
  #settle: (outcome: WriterOutcome) => void = () => {};
  #writeFailing = false;
  /** Bytes of output dropped since writing began to fail. */
  #droppedBytes = 0;
  #nudge: AbortController | undefined;
  #nudged = false;

  private constructor(options: ContainerLogWriterOptions) {
    this.containerId = options.containerId;
    this.path = options.path;
    this.#docker = options.docker;
    this.#log = options.logger.child({ containerId: options.containerId, logPath: options.path });
    this.#maxLineSize = options.maxLineSize ?? DEFAULT_MAX_LINE_SIZE;
    this.finished = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  /**
   * Opens (creating) the file, finds where it ends, and starts copying in the background.
   * Fails when the file cannot be opened.
   */
  static async start(options: ContainerLogWriterOptions): Promise<ContainerLogWriter> {
    const writer = new ContainerLogWriter(options);
    try {
      await writer.#open();
    } catch (err) {
      throw internal(`cannot open the container log ${options.path}: ${messageOf(err)}`, err);
    }
    void writer.#run();
    return writer;
  }

  /** How the writer ended, or undefined while it runs. */
  get outcome(): WriterOutcome | undefined {
    return this.#outcome;
  }

  /**
   * Waits until the container's whole output is in the file (it stopped, or was removed; or the
   * engine cannot read its log, so nothing more will come), at most `timeoutMs`. False when
   * that did not happen in time, or the writer was stopped.
   */
  async drained(timeoutMs: number): Promise<boolean> {
    const timeout = new AbortController();
    const expired = sleep(timeoutMs, undefined, { signal: timeout.signal }).then(
      () => undefined,
      () => undefined,
    );
    const outcome = await Promise.race([this.finished, expired]);
    timeout.abort();
    return outcome !== undefined && outcome !== "stopped";
  }

  /**
   * Closes the file and opens a new one at the same path: the kubelet renamed the old one
   * (log rotation). Lines written from now on go to the new file. Refused once the container
   * stopped, as containerd does, so the kubelet renames the file back.
   */
  async reopen(): Promise<void> {
    if (this.#outcome !== undefined) {
      throw failedPrecondition(`container ${this.containerId} is not running`);
    }
    await this.#withFile(async () => {
      if (this.#outcome !== undefined) {
        throw failedPrecondition(`container ${this.containerId} is not running`);
      }
      const next = await openLogFile(this.path);
      const previous = this.#file;
      this.#file = next;
      await previous?.close();
    });
    this.#log.debug("reopened container log");
  }

  /**
   * The container was just started: look at it now rather than at the next poll. For a writer
   * started before the engine's start call (so a bad log path fails StartContainer before the
   * container runs, as with containerd).
   */
  nudge(): void {
    this.#nudged = true;
    this.#nudge?.abort();
  }

  /** Stops copying (the container is being removed, berth shuts down) and closes the file. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.finished;
  }

  async #open(): Promise<void> {
    const cut = await cutTornTail(this.path);
    if (cut > 0) this.#log.warn({ bytes: cut }, "dropped a torn last line of the container log");
    const tail = await readWrittenTail(this.path);
    this.#window = new ResumeWindow(tail.lines, tail.fromStart);
    this.#file = await openLogFile(this.path);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let outcome: WriterOutcome = "stopped";
    let failures = 0;
    let waitingToStart = 0;
    /** The last read was a follow, which ended. */
    let followed = false;
    /** Follows in a row that ended with nothing new while the container kept running. */
    let idleFollows = 0;
    try {
      while (!signal.aborted) {
        const container = await this.#inspect();
        if (container === undefined) {
          outcome = "removed";
          break;
        }
        const state = container.State.Status;
        if (state === "created") {
          // The engine ends a follow at once for a container not started: wait for the start.
          await this.#waitForStart(Math.min(100 * 2 ** waitingToStart++, 1000));
          continue;
        }
        waitingToStart = 0;
        const tty = container.Config.Tty === true;
        const follow = state === "running" || state === "paused" || state === "restarting";
        if (follow && idleFollows > 1) {
          // Ending again and again while the container runs: the engine's log reader fails.
          await sleep(Math.min(50 * 2 ** (idleFollows - 2), 2000), undefined, { signal });
        }
        let written: number;
        try {
          // The follow ended because the container stopped: the engine delivers everything
          // before it ends the stream, so comparing its last lines with the file's suffices.
          if (!follow && followed && (await this.#endsAsWritten(tty))) {
            outcome = "exited";
            break;
          }
          written = await this.#copy(tty, follow);
          failures = 0;
        } catch (err) {
          if (isNotFound(err)) {
            outcome = "removed";
            break;
          }
          if (isErrorKind(err, "Unimplemented") || isErrorKind(err, "InvalidArgument")) {
            this.#log.error({ err: messageOf(err) }, "the engine cannot read this container's log");
            outcome = "unreadable";
            break;
          }
          await this.#pause(++failures, err, "copy the container's output");
          continue;
        }
        if (!follow) {
          outcome = "exited";
          break;
        }
        followed = true;
        idleFollows = written > 0 ? 0 : idleFollows + 1;
      }
    } catch (err) {
      // Only an abort (stop()) gets here: every other failure is retried.
      if (!signal.aborted) this.#log.error({ err: messageOf(err) }, "container log writer failed");
    }
    if (signal.aborted) outcome = "stopped";
    await this.#close(outcome);
  }

  /** Sleeps `ms`, or less when nudged; throws when stopped. */
  async #waitForStart(ms: number): Promise<void> {
    // Nudged while looking: the look may have been from before the start.
    if (this.#nudged) {
      this.#nudged = false;
      return;
    }
    const nudge = new AbortController();
    this.#nudge = nudge;
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any([this.#abort.signal, nudge.signal]) });
    } catch (err) {
      if (this.#abort.signal.aborted) throw err;
    } finally {
      this.#nudge = undefined;
      this.#nudged = false;
    }
  }

  /** The container, or undefined when the engine has none; retries while the engine is away. */
  async #inspect(): Promise<ContainerInspect | undefined> {
    for (let failures = 1; ; failures++) {
      try {
        return await this.#docker.findContainer(this.containerId, this.#abort.signal);
      } catch (err) {
        await this.#pause(failures, err, "inspect the container");
      }
    }
  }

  /** Waits before trying again; the engine may be restarting. */
  async #pause(failures: number, err: unknown, what: string): Promise<void> {
    if (this.#abort.signal.aborted) throw err;
    const level = failures === 1 ? "warn" : "debug";
    this.#log[level]({ err: messageOf(err), failures }, `could not ${what}; trying again`);
    await sleep(Math.min(250 * 2 ** (failures - 1), 5000), undefined, {
      signal: this.#abort.signal,
    });
  }

  /** One logs request: copies what the engine answers until the body ends; counts new lines. */
  async #copy(tty: boolean, follow: boolean): Promise<number> {
    const window = this.#window as ResumeWindow;
    const point = window.resumePoint();
    const replay = new Replay(point);
    const body = await this.#docker.containerLogs(
      this.containerId,
      { follow, since: point.since > 0n ? dockerSince(point.since) : undefined },
      this.#abort.signal,
    );
    this.#log.debug(
      { follow, since: point.since.toString(), alreadyWritten: point.written.length },
      "reading the container's output",
    );
    const parser = logStreamParser(tty, (message) =>
      this.#log.warn({ message }, "the engine reported an error in the log stream"),
    );
    try {
      // One chunk at a time: the next is read only once this one is on disk, so a slow disk
      // holds the engine's stream back instead of filling berth's memory.
      for await (const chunk of body) {
        await this.#append(parser.push(chunk as Buffer), replay);
      }
      await this.#append(parser.end(), replay);
      const summary = replay.summary();
      this.#log.debug(summary, "the engine's log stream ended");
      return summary.written;
    } finally {
      body.destroy();
    }
  }

  /**
   * Whether the engine's last lines are the file's last lines: a cheap check (the engine reads
   * its log backwards for `tail`) that spares reading its whole copy again.
   */
  async #endsAsWritten(tty: boolean): Promise<boolean> {
    const window = this.#window as ResumeWindow;
    const body = await this.#docker.containerLogs(
      this.containerId,
      { tail: CHECK_TAIL },
      this.#abort.signal,
    );
    const lines: LineKey[] = [];
    let engineErrors = 0;
    const parser = logStreamParser(tty, () => engineErrors++);
    const take = (entries: LogEntry[]) => {
      for (const entry of entries) lines.push(...criLinesOf(entry, this.#maxLineSize));
    };
    for await (const chunk of body) take(parser.push(chunk as Buffer));
    take(parser.end());
    const written = window.lastLines(lines.length);
    const same =
      engineErrors === 0 &&
      (written.length === lines.length || (!window.fromStart && written.length > 0)) &&
      written.every((line, i) =>
        sameLine(line, lines[lines.length - written.length + i] as LineKey),
      );
    if (!same) this.#log.info("the file misses lines the engine has; reading its log again");
    return same;
  }

  async #append(entries: LogEntry[], replay: Replay): Promise<void> {
    if (entries.length === 0) return;
    const lines: CriLogLine[] = [];
    for (const entry of entries) {
      for (const line of criLinesOf(entry, this.#maxLineSize)) {
        if (!replay.alreadyWritten(line)) lines.push(line);
      }
    }
    if (lines.length === 0) return;
    const data = Buffer.concat(lines.map(formatCriLine));
    await this.#withFile(async () => {
      const file = this.#file;
      if (!file) return;
      try {
        await writeFully(file, data);
        observeCopyLag(lines);
        if (this.#writeFailing) {
          this.#log.info(
            { droppedBytes: this.#droppedBytes },
            `writing the container log works again; ${this.#droppedBytes} bytes of output were dropped meanwhile`,
          );
        }
        this.#writeFailing = false;
        this.#droppedBytes = 0;
      } catch (err) {
        // As containerd does: keep draining the output rather than stall the container. A
        // line written in part is cut off again, so the file holds whole CRI lines only.
        const torn = err instanceof TornWrite ? err.bytesWritten : 0;
        if (torn > 0) await cutBack(file, torn, this.#log);
        this.#droppedBytes += data.length;
        containerLogDroppedBytes.inc(data.length);
        if (!this.#writeFailing) {
          this.#log.error(
            { err: messageOf(err instanceof TornWrite ? err.cause : err) },
            "could not write the container log; dropping its output until writing works again",
          );
        }
        this.#writeFailing = true;
      }
    });
    const window = this.#window as ResumeWindow;
    for (const line of lines) window.add(line);
  }

  #withFile<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#fileQueue.then(work, work);
    this.#fileQueue = run.catch(() => {});
    return run;
  }

  async #close(outcome: WriterOutcome): Promise<void> {
    await this.#withFile(async () => {
      this.#outcome = outcome;
      const file = this.#file;
      this.#file = undefined;
      this.#window = undefined;
      await file?.close().catch(() => {});
    });
    this.#log.debug({ outcome }, "container log writer ended");
    this.#settle(outcome);
  }
}

/** How far behind the engine the file is: the newest line written against the clock. */
function observeCopyLag(lines: CriLogLine[]): void {
  const newest = lines.at(-1);
  if (!newest) return;
  const lagSeconds = Date.now() / 1000 - Number(newest.timestamp / 1_000_000n) / 1000;
  containerLogCopyLag.observe(Math.max(0, lagSeconds));
}

/** A write that failed after `bytesWritten` bytes of it reached the file. */
class TornWrite extends Error {
  readonly bytesWritten: number;

  constructor(bytesWritten: number, cause: unknown) {
    super(`write failed after ${bytesWritten} bytes: ${messageOf(cause)}`, { cause });
    this.bytesWritten = bytesWritten;
  }
}

async function writeFully(file: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  try {
    while (done < data.length) {
      const { bytesWritten } = await file.write(data, done, data.length - done);
      done += bytesWritten;
    }
  } catch (err) {
    throw new TornWrite(done, err);
  }
}

/** Removes the last `bytes` of the file: what a failed write left of its lines. */
async function cutBack(file: FileHandle, bytes: number, log: Logger): Promise<void> {
  try {
    const { size } = await file.stat();
    await file.truncate(Math.max(0, size - bytes));
  } catch (err) {
    log.warn({ err: messageOf(err), bytes }, "could not cut a partly written line off the log");
  }
}
