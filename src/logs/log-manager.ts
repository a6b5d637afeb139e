import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import { failedPrecondition, notFound } from "../errors.ts";
import { ContainerLogWriter } from "./container-log-writer.ts";

export interface LogManagerOptions {
  /**
   * The engine client the writers follow logs with: a client of its own with an unbounded
   * pool, since each follow stream holds a connection for its container's whole life and
   * would otherwise starve berth's other engine calls.
   */
  docker: DockerEngine;
  logger: Logger;
  /** See ContainerLogWriterOptions.maxLineSize. */
  maxLineSize?: number;
}

/**
 * The log writers of all containers, by container id. A writer stays here after its container
 * stopped (ContainerStatus awaits its `drained`) until stop() drops it (RemoveContainer).
 */
export class LogManager {
  readonly #options: LogManagerOptions;
  readonly #writers = new Map<string, Promise<ContainerLogWriter>>();
  #closed = false;

  constructor(options: LogManagerOptions) {
    this.#options = options;
  }

  /**
   * Starts copying a container's output into `path` (idempotent: a writer already there for
   * that path is answered). Resolves once the file is open; fails when it cannot be.
   */
  async start(containerId: string, path: string): Promise<ContainerLogWriter> {
    if (this.#closed) throw failedPrecondition("container logs are shutting down");
    const existing = this.#writers.get(containerId);
    if (existing) {
      const writer = await existing.catch(() => undefined);
      if (writer && writer.path === path && writer.outcome !== "stopped") return writer;
      if (this.#writers.get(containerId) === existing) {
        this.#writers.delete(containerId);
        await writer?.stop();
      }
      return this.start(containerId, path);
    }
    const starting = ContainerLogWriter.start({
      docker: this.#options.docker,
      containerId,
      path,
      logger: this.#options.logger,
      maxLineSize: this.#options.maxLineSize,
    });
    this.#writers.set(containerId, starting);
    try {
      return await starting;
    } catch (err) {
      if (this.#writers.get(containerId) === starting) this.#writers.delete(containerId);
      throw err;
    }
  }

  /** The writer of a container, if one was started and not stopped. */
  async get(containerId: string): Promise<ContainerLogWriter | undefined> {
    return this.#writers.get(containerId)?.catch(() => undefined);
  }

  /**
   * Waits until the container's output is all in its file, at most `timeoutMs`. True also
   * when berth writes no log for it (nothing to wait for).
   */
  async drained(containerId: string, timeoutMs: number): Promise<boolean> {
    const writer = await this.get(containerId);
    return writer ? writer.drained(timeoutMs) : true;
  }

  /** ReopenContainerLog. */
  async reopen(containerId: string): Promise<void> {
    const writer = await this.get(containerId);
    if (!writer) throw notFound(`no log is written for container ${containerId}`);
    await writer.reopen();
  }

  /** Stops a container's writer and forgets it (RemoveContainer). */
  async stop(containerId: string): Promise<void> {
    const entry = this.#writers.get(containerId);
    if (!entry) return;
    this.#writers.delete(containerId);
    const writer = await entry.catch(() => undefined);
    await writer?.stop();
  }

  /** Stops every writer (berth shutting down); a restarted berth resumes where they ended. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    const ids = [...this.#writers.keys()];
    await Promise.all(ids.map((id) => this.stop(id)));
  }
}
