import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { BerthError, type ErrorKind, failedPrecondition } from "../errors.ts";
import { recordPluginRun } from "../metrics/record.ts";
import { parseErrorOutput } from "./cni-result.ts";

export type CniCommand = "ADD" | "DEL" | "CHECK" | "STATUS" | "VERSION";

export const DEFAULT_CNI_BIN_DIRS = ["/opt/cni/bin", "/usr/lib/cni"];
export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;

/** Plugin output beyond this is a broken plugin, not a result worth buffering. */
const MAX_STDOUT_BYTES = 4 << 20;
const MAX_STDERR_CHARS = 4096;

/** A plugin (or its invocation) failed; carries the plugin's own error object when it gave one. */
export class CniPluginError extends BerthError {
  readonly plugin: string;
  readonly command: CniCommand;
  readonly network: string;
  /** The spec's error code: 1-99 well-known (11 try again, 50/51 STATUS), 100+ the plugin's. */
  readonly code: number | undefined;

  constructor(
    kind: ErrorKind,
    plugin: string,
    command: CniCommand,
    network: string,
    message: string,
    options?: { code?: number | undefined; cause?: unknown },
  ) {
    super(kind, `CNI plugin ${plugin} failed ${command} on network ${network}: ${message}`, {
      cause: options?.cause,
    });
    this.plugin = plugin;
    this.command = command;
    this.network = network;
    this.code = options?.code;
  }
}

/** Well-known codes that mean the configuration, not the node, is wrong. */
const CONFIG_ERROR_CODES = new Set([1, 2, 7]);

function kindOfCode(code: number | undefined): ErrorKind {
  if (code === 11) return "Unavailable";
  if (code !== undefined && CONFIG_ERROR_CODES.has(code)) return "FailedPrecondition";
  return "Internal";
}

/**
 * The executable for a plugin type: the first directory holding it wins, as CNI_PATH is
 * searched. The type names a file, never a path.
 */
export async function findPlugin(type: string, binDirs: string[]): Promise<string> {
  if (type === "" || type.includes("/") || type === "." || type === "..") {
    throw failedPrecondition(`CNI plugin type "${type}" is not a plugin name`);
  }
  for (const dir of binDirs) {
    const path = join(dir, type);
    try {
      if ((await stat(path)).isFile()) {
        await access(path, constants.X_OK);
        return path;
      }
    } catch {
      // absent or not executable here: the next directory may have it
    }
  }
  throw failedPrecondition(`CNI plugin "${type}" not found in ${binDirs.join(":")}`);
}

export interface PluginInvocation {
  /** The plugin's type, for messages. */
  plugin: string;
  path: string;
  command: CniCommand;
  network: string;
  /** The CNI_* variables besides CNI_COMMAND; unset ones are not passed. */
  env: {
    CNI_CONTAINERID?: string;
    CNI_NETNS?: string;
    CNI_IFNAME?: string;
    CNI_ARGS?: string;
    CNI_PATH?: string;
  };
  stdin: unknown;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  log: Logger;
}

/**
 * Runs one plugin as the spec describes: CNI_* in the environment (on top of berth's own, so
 * plugins find iptables and friends on PATH), the config on stdin, a result or an error object
 * on stdout, logs on stderr. Answers the parsed stdout (undefined when empty).
 *
 * A plugin past its time or whose caller gave up is killed with its whole process group: the
 * bridge plugin runs host-local as a child, which must not outlive it.
 */
export async function invokePlugin(invocation: PluginInvocation): Promise<unknown> {
  const started = performance.now();
  let failed = true;
  try {
    const output = await runPlugin(invocation);
    failed = false;
    return output;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    recordPluginRun(invocation.command, invocation.plugin, seconds, failed);
  }
}

async function runPlugin(invocation: PluginInvocation): Promise<unknown> {
  const { plugin, command, network, log } = invocation;
  const fail = (kind: ErrorKind, message: string, options?: { code?: number; cause?: unknown }) =>
    new CniPluginError(kind, plugin, command, network, message, options);

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Stray CNI_* variables of berth's own environment must not leak into an invocation.
    if (value !== undefined && !key.startsWith("CNI_")) env[key] = value;
  }
  env.CNI_COMMAND = command;
  for (const [key, value] of Object.entries(invocation.env)) {
    if (value !== undefined) env[key] = value;
  }

  if (invocation.signal?.aborted) {
    throw fail("Cancelled", "cancelled by the caller", { cause: invocation.signal.reason });
  }
  const timeout = AbortSignal.timeout(invocation.timeoutMs);
  const signal = invocation.signal ? AbortSignal.any([invocation.signal, timeout]) : timeout;
  const started = performance.now();

  const outcome = await new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    spawnError?: Error;
  }>((resolve) => {
    const child = spawn(invocation.path, [], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    let overflow = false;
    const kill = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const onAbort = () => kill();
    signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        overflow = true;
        kill();
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS);
    });
    // A plugin that exits without reading its config closes the pipe under us.
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify(invocation.stdin));
    let spawnError: Error | undefined;
    child.on("error", (err) => {
      spawnError = err;
    });
    child.on("close", (code, exitSignal) => {
      signal.removeEventListener("abort", onAbort);
      resolve({
        code,
        signal: exitSignal,
        stdout: overflow ? "" : Buffer.concat(stdout).toString("utf8"),
        stderr: overflow ? `more than ${MAX_STDOUT_BYTES} bytes on stdout` : stderr,
        ...(spawnError ? { spawnError } : {}),
      });
    });
  });

  const ms = Math.round(performance.now() - started);
  log.debug(
    { plugin, command, network, ms, exitCode: outcome.code, stderr: outcome.stderr || undefined },
    "CNI plugin ran",
  );

  if (invocation.signal?.aborted) {
    throw fail("Cancelled", "cancelled by the caller", { cause: invocation.signal.reason });
  }
  if (timeout.aborted) {
    throw fail(
      "DeadlineExceeded",
      `no answer within ${invocation.timeoutMs} ms (--cni-plugin-timeout); killed`,
    );
  }
  if (outcome.spawnError) {
    throw fail("Internal", `cannot run ${invocation.path}: ${outcome.spawnError.message}`, {
      cause: outcome.spawnError,
    });
  }
  if (outcome.code !== 0) {
    const error = parseErrorOutput(outcome.stdout);
    if (error) {
      const text = [error.msg, error.details].filter(Boolean).join(": ") || "unknown error";
      const codeText = error.code !== undefined ? ` (code ${error.code})` : "";
      throw fail(kindOfCode(error.code), `${text.trim()}${codeText}`, {
        ...(error.code !== undefined ? { code: error.code } : {}),
      });
    }
    const how = outcome.signal ? `killed by ${outcome.signal}` : `exit status ${outcome.code}`;
    const said = (outcome.stderr.trim() || outcome.stdout.trim()).slice(-1000);
    throw fail("Internal", said ? `${how}: ${said}` : how);
  }
  const text = outcome.stdout.trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw fail("Internal", `output is not JSON: ${text.slice(0, 200)}`);
  }
}
