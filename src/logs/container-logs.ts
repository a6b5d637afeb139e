import type { Logger } from "pino";
import type { ContainerRecord } from "../store/records.ts";
import { CONTAINER_LOG_CONFIG } from "./container-log-writer.ts";
import type { LogManager } from "./log-manager.ts";

/** berth's CRI log files, written from each container's output (src/logs/). */
export interface ContainerLogs {
  /** The Docker log driver berth's writer reads from, set on every container. */
  readonly dockerLogConfig: { Type: string; Config?: Record<string, string> };
  /**
   * Follows the container's output into its log file (nothing without a log path); answers
   * a function to call once the engine started the container, so following begins at once.
   */
  start(record: ContainerRecord): Promise<() => void>;
  /** Resolves once all the exited container wrote is in its file (bounded wait). */
  drained(id: string): Promise<void>;
  reopen(id: string): Promise<void>;
  stop(id: string): Promise<void>;
}

/** How long ContainerStatus waits for an exited container's log to be complete. */
const DRAIN_TIMEOUT_MS = 2_000;

/** The handlers' view of container logs, over the log writers' manager. */
export class BerthContainerLogs implements ContainerLogs {
  readonly dockerLogConfig = CONTAINER_LOG_CONFIG;
  readonly #manager: LogManager;
  readonly #log: Logger;

  constructor(manager: LogManager, log: Logger) {
    this.#manager = manager;
    this.#log = log;
  }

  async start(record: ContainerRecord): Promise<() => void> {
    if (record.logPath === "") return () => {};
    const writer = await this.#manager.start(record.id, record.logPath);
    return () => writer.nudge();
  }

  async drained(id: string): Promise<void> {
    if (!(await this.#manager.drained(id, DRAIN_TIMEOUT_MS))) {
      this.#log.warn({ container: id }, "log file not complete within 2 s of the exit");
    }
  }

  reopen(id: string): Promise<void> {
    return this.#manager.reopen(id);
  }

  stop(id: string): Promise<void> {
    return this.#manager.stop(id);
  }

  stopAll(): Promise<void> {
    return this.#manager.stopAll();
  }

  /** After a restart: resume every container's log where its file ends. */
  async resume(records: Iterable<ContainerRecord>): Promise<void> {
    await Promise.all(
      [...records]
        .filter((record) => record.logPath !== "" && record.process.status !== "created")
        .map((record) =>
          this.#manager.start(record.id, record.logPath).catch((err: unknown) => {
            this.#log.warn({ container: record.id, err: String(err) }, "could not resume log");
          }),
        ),
    );
  }
}
