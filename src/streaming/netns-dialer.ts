import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { isSea } from "node:sea";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { dialLocalhost } from "./localhost-dial.ts";

/** Opens connections to localhost ports of one pod. */
export interface PodDialer {
  dial(port: number): Promise<Socket>;
  close(): void;
}

/** Host-network pods share the host's namespace: connect directly. */
export function hostDialer(): PodDialer {
  return { dial: dialLocalhost, close: () => {} };
}

/**
 * The first argument that makes berth's single executable (src/single-executable.ts) run as
 * the dialer child instead of as berth.
 */
export const NETNS_DIALER_MODE = "__netns-dialer";

/**
 * The child's command after `nsenter ... --`: the script beside this module (.ts when berth
 * runs from source, .js from the build), or, in the single executable, where no script file
 * exists, the executable itself in its dialer mode.
 */
function dialerCommand(): string[] {
  if (isSea()) return [process.execPath, NETNS_DIALER_MODE];
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return [
    process.execPath,
    fileURLToPath(new URL(`./netns-dialer-child${extension}`, import.meta.url)),
  ];
}

interface DialReply {
  id?: number;
  ok?: boolean;
  error?: string;
  ready?: boolean;
}

/**
 * Dials inside a pod's network namespace without socat: Node cannot move a thread into
 * another namespace, so one small Node process is started there per port-forward session
 * (`nsenter --net=<path>`, with the very Node binary berth runs on) and asked for each
 * connection over IPC. It connects and passes the socket's descriptor back; from then on
 * berth relays directly, with ordinary socket backpressure and no extra hop.
 */
export class NetnsDialer implements PodDialer {
  readonly #netnsPath: string;
  readonly #log: Logger;
  #child: ChildProcess | undefined;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (s: Socket) => void; reject: (e: Error) => void }
  >();
  #closed = false;

  constructor(netnsPath: string, log: Logger) {
    this.#netnsPath = netnsPath;
    this.#log = log;
  }

  dial(port: number): Promise<Socket> {
    if (this.#closed) return Promise.reject(new Error("port-forward session closed"));
    const child = this.#ensureChild();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.send({ id, port }, (err) => {
        if (err) this.#settle(id, new Error(`dialer unreachable: ${err.message}`));
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#failAll(new Error("port-forward session closed"));
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null) {
      if (child.connected) child.disconnect();
      child.kill("SIGKILL");
    }
  }

  #ensureChild(): ChildProcess {
    if (this.#child?.connected) return this.#child;
    const started = Date.now();
    const child = spawn("nsenter", [`--net=${this.#netnsPath}`, "--", ...dialerCommand()], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    this.#child = child;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString("utf8");
    });
    child.on("message", (reply: DialReply, handle: unknown) => {
      if (reply.ready) {
        this.#log.debug({ ms: Date.now() - started, netns: this.#netnsPath }, "netns dialer up");
        return;
      }
      if (reply.id === undefined) return;
      if (reply.ok && handle) this.#settle(reply.id, undefined, handle as Socket);
      else this.#settle(reply.id, new Error(reply.error ?? "connection failed"));
    });
    child.on("error", (err) =>
      this.#failAll(new Error(`cannot start netns dialer: ${err.message}`)),
    );
    child.on("exit", (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      const reason = stderr.trim() || `exit ${code ?? signal}`;
      this.#failAll(new Error(`netns dialer ended: ${reason}`));
    });
    return child;
  }

  #settle(id: number, err?: Error, socket?: Socket): void {
    const pending = this.#pending.get(id);
    if (!pending) {
      socket?.destroy();
      return;
    }
    this.#pending.delete(id);
    if (err || !socket) pending.reject(err ?? new Error("no socket"));
    else {
      // The descriptor arrives as a fresh socket; keep half-close semantics for the relay.
      socket.allowHalfOpen = true;
      pending.resolve(socket);
    }
  }

  #failAll(err: Error): void {
    for (const [id] of this.#pending) this.#settle(id, err);
  }
}
