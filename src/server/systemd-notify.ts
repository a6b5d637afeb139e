import { spawn } from "node:child_process";
import type { Logger } from "pino";
import { messageOf } from "../errors.ts";

/**
 * sd_notify(3) for a unit with Type=notify (cri-docker.service's): READY=1 once berth serves,
 * STOPPING=1 when it shuts down, WATCHDOG=1 every WATCHDOG_USEC/2 when the unit sets
 * WatchdogSec=.
 *
 * The messages are AF_UNIX datagrams, which Node cannot send. berth runs Debian's
 * `systemd-notify` (package systemd, on every node that has a NOTIFY_SOCKET) for each one,
 * rather than a native addon (unix-dgram, sd-notify): those need a compiler and Node's headers
 * at install time, which a packaged berth must not. systemd-notify 252 sends with its parent's
 * pid as the sender credentials when run as root, so systemd attributes the message to berth,
 * the unit's main process, and cri-docker.service's default NotifyAccess=main accepts it;
 * no extra NotifyAccess= is needed. A run costs about 12 ms of CPU and 60 ms wall clock (20
 * runs measured on a 2-core test machine), twice per WatchdogSec at most: negligible.
 */
export class SystemdNotifier {
  readonly #socket: string;
  readonly #watchdogMs: number | undefined;
  readonly #log: Logger;
  readonly #command: string;
  #watchdog: NodeJS.Timeout | undefined;

  private constructor(
    socket: string,
    watchdogMs: number | undefined,
    log: Logger,
    command: string,
  ) {
    this.#socket = socket;
    this.#watchdogMs = watchdogMs;
    this.#log = log;
    this.#command = command;
  }

  /**
   * The notifier NOTIFY_SOCKET asks for, or undefined outside a Type=notify unit. NOTIFY_SOCKET
   * and WATCHDOG_* are removed from the environment, as sd_notify(unset_environment=1) does,
   * so that no child berth spawns talks to systemd in berth's name.
   */
  static fromEnvironment(
    log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    pid: number = process.pid,
    command = "systemd-notify",
  ): SystemdNotifier | undefined {
    const { NOTIFY_SOCKET: socket, WATCHDOG_USEC: usec, WATCHDOG_PID: watchdogPid } = env;
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    if (!socket) return undefined;
    const forUs = watchdogPid === undefined || Number(watchdogPid) === pid;
    const micros = Number(usec);
    const watchdogMs = forUs && Number.isFinite(micros) && micros > 0 ? micros / 1000 : undefined;
    return new SystemdNotifier(socket, watchdogMs, log, command);
  }

  /** WATCHDOG_USEC in milliseconds, when the watchdog is for this process. */
  get watchdogMs(): number | undefined {
    return this.#watchdogMs;
  }

  /** READY=1, then the watchdog's keep-alives until stopping(). */
  async ready(status: string): Promise<void> {
    await this.notify("READY=1", `STATUS=${status}`);
    if (this.#watchdogMs !== undefined && !this.#watchdog) {
      this.#watchdog = setInterval(() => void this.notify("WATCHDOG=1"), this.#watchdogMs / 2);
      this.#watchdog.unref();
    }
  }

  async stopping(): Promise<void> {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    await this.notify("STOPPING=1", "STATUS=draining in-flight calls");
  }

  /** Sends one message; a failure is logged, never thrown: systemd's view is not berth's job. */
  notify(...assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      let output = "";
      // --no-block: without it systemd-notify follows with a BARRIER=1 message of its own
      // pid, which a NotifyAccess=main unit logs as refused; attribution needs no barrier
      // here, since the pid the message carries (berth's) is alive.
      const child = spawn(this.#command, ["--no-block", ...assignments], {
        env: { PATH: process.env.PATH, NOTIFY_SOCKET: this.#socket },
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.once("error", (err) => {
        this.#log.warn({ err: messageOf(err) }, `cannot run ${this.#command} to notify systemd`);
        resolve();
      });
      child.once("exit", (code) => {
        if (code !== 0) {
          this.#log.warn(
            { code, stderr: output.trim() },
            `${this.#command} ${assignments.join(" ")} failed`,
          );
        } else {
          this.#log.debug({ message: assignments }, "notified systemd");
        }
        resolve();
      });
    });
  }
}
