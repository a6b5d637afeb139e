import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CriClient, criClient } from "./cri-client.ts";

const REPO = join(import.meta.dirname, "..", "..");
const NODE = process.execPath;
/**
 * What runs: BERTH_ENTRY=dist/main.js (set by `npm test` and `npm run bench`) is the build
 * `npm start` runs; without it the sources run directly, for a developer's quick check.
 */
const ENTRY = process.env.BERTH_ENTRY ?? "src/main.ts";
const NODE_FLAGS = ["--max-semi-space-size=2"];

/**
 * The environment packaging/systemd/berth.service (and `npm start`) gives berth: the benchmark
 * and the soak run berth as a node runs it. bench/service-env.test.ts keeps the two in step.
 */
export const SERVICE_ENV: Record<string, string> = { MALLOC_ARENA_MAX: "2" };

export interface BerthProcess {
  socket: string;
  endpoint: string;
  rootDir: string;
  client: CriClient;
  child: ChildProcess;
  /** Everything berth wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit; answers the exit code. `keepState` keeps the root directory. */
  stop(options?: { keepState?: boolean }): Promise<number | null>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  args?: string[];
  /** Reuse a socket path or root directory (restart tests). */
  socket?: string;
  rootDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Do not wait for the socket (tests of refused starts). */
  noWait?: boolean;
  /** Run this berth executable (the packaged single executable) instead of Node with ENTRY. */
  executable?: string;
  cwd?: string;
  /**
   * Start berth as systemd would from a socket unit: Debian's systemd-socket-activate listens
   * on the socket and execs berth on the first connection with LISTEN_FDS/LISTEN_PID set.
   * berth gets `--container-runtime-endpoint fd://` (or `endpoint`) instead of `--listen`;
   * systemd-socket-activate passes on only PATH and `env`.
   */
  socketActivated?: { fdName?: string; endpoint?: string };
  /** Replace the test flags (--listen, --root-directory, --log-level) by `args` alone. */
  onlyArgs?: boolean;
}

/** Starts berth from source on a temporary socket, as `npm start` would run it. */
export async function startBerth(options: StartOptions = {}): Promise<BerthProcess> {
  const dir = mkdtempSync(join(tmpdir(), "berth-e2e-"));
  const socket = options.socket ?? join(dir, "berth.sock");
  const rootDir = options.rootDir ?? join(dir, "root");
  const activated = options.socketActivated;
  const testArgs = options.onlyArgs
    ? []
    : [
        ...(activated
          ? ["--container-runtime-endpoint", activated.endpoint ?? "fd://"]
          : ["--listen", `unix://${socket}`]),
        "--root-directory",
        rootDir,
        "--log-level",
        "debug",
      ];
  const [command, ...prefix] = options.executable
    ? [options.executable]
    : [NODE, ...NODE_FLAGS, join(REPO, ENTRY)];
  const berthArgs = [...prefix, ...testArgs, ...(options.args ?? [])];
  const cwd = options.cwd ?? REPO;
  const child = activated
    ? spawn(
        "systemd-socket-activate",
        [
          "--listen",
          socket,
          ...(activated.fdName ? [`--fdname=${activated.fdName}`] : []),
          ...Object.entries(options.env ?? {}).map(([name, value]) => `--setenv=${name}=${value}`),
          command as string,
          ...berthArgs,
        ],
        { cwd, env: process.env, stdio: ["ignore", "pipe", "pipe"] },
      )
    : spawn(command as string, berthArgs, {
        cwd,
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => {
      // A berth that dies on its own is a bug: show why, whatever the test then reports.
      if (!stopping && !options.noWait) {
        process.stderr.write(
          `berth exited unexpectedly (code ${code}, signal ${signal}); its last output:\n${output.slice(-4000)}\n`,
        );
      }
      resolve(code);
    }),
  );
  const endpoint = `unix://${socket}`;
  const client = criClient(endpoint);
  const berth: BerthProcess = {
    socket,
    endpoint,
    rootDir,
    client,
    child,
    output: () => output,
    exited,
    async stop(stopOptions = {}) {
      stopping = true;
      client.close();
      if (child.exitCode === null) child.kill("SIGTERM");
      const code = await exited;
      // The temporary directory holds the socket, and the root unless the test brought one:
      // kept only when the test asked to keep a root that lives there.
      if (options.rootDir || !stopOptions.keepState) rmSync(dir, { recursive: true, force: true });
      return code;
    },
    async kill() {
      stopping = true;
      client.close();
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  if (!options.noWait) await waitForServing(berth);
  return berth;
}

async function waitForServing(berth: BerthProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (berth.child.exitCode !== null) {
      throw new Error(
        `berth exited with ${berth.child.exitCode} before serving:\n${berth.output()}`,
      );
    }
    try {
      await berth.client.runtime.status({}, { timeoutMs: 2000 });
      return;
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`berth did not serve within 20 s: ${String(lastError)}\n${berth.output()}`);
}

/** Runs berth to completion (subcommands, --help, refused starts): exit code and output. */
export function runBerth(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(NODE, [...NODE_FLAGS, join(REPO, ENTRY), ...args], {
    cwd: REPO,
    env,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
