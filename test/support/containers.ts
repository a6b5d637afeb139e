import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContainerConfigSchema,
  ContainerState,
  type ContainerStatus,
} from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, type StartOptions, startBerth } from "./berth-process.ts";
import { writeTestNetwork } from "./cni.ts";
import { testDocker } from "./docker.ts";
import { loadFixtures } from "./fixtures.ts";
import { podConfig, type SandboxConfigInit } from "./pods.ts";

/**
 * Helpers for the container end-to-end tests: one berth per test file on its own CNI config,
 * pods and containers made through berth's socket, and what the tests read back from the
 * host (a process's /proc files, a CRI log file).
 */

/** A ContainerConfig as a plain init object (the message form left out, so Partial<> works). */
export type ContainerConfigInit = Exclude<
  MessageInitShape<typeof ContainerConfigSchema>,
  { $typeName: string }
>;

export const fixtures = loadFixtures();
export const BUSYBOX = fixtures.images.busybox;

/** berth on a temporary socket with the tests' CNI network, and a Docker client beside it. */
export interface ContainerEnv {
  /** The berth serving now (restart() replaces it). */
  berth: BerthProcess;
  docker: ReturnType<typeof testDocker>;
  cniDir: string;
  /**
   * Stops berth (SIGTERM, or SIGKILL with `crash`) keeping its state, and starts it again on
   * the same socket and root directory; containers keep running meanwhile.
   */
  restart(options?: { crash?: boolean; downMs?: number }): Promise<void>;
  /**
   * Removes the pods runPod() made (only those: other berths share the engine and see every
   * berth pod on it), stops berth, removes the temporary directories.
   */
  close(): Promise<void>;
  /** Pods made by runPod(), removed by close(). */
  pods: Pod[];
}

export async function startContainerEnv(options: StartOptions = {}): Promise<ContainerEnv> {
  const cniDir = mkdtempSync(join(tmpdir(), "berth-ctr-cni-"));
  writeTestNetwork(cniDir);
  const args = ["--cni-conf-dir", cniDir, ...(options.args ?? [])];
  const first = await startBerth({ ...options, args });
  const env: ContainerEnv = {
    berth: first,
    docker: testDocker(),
    cniDir,
    async restart(restartOptions = {}) {
      const { socket, rootDir } = env.berth;
      if (restartOptions.crash) await env.berth.kill();
      else await env.berth.stop({ keepState: true });
      if (restartOptions.downMs) await sleep(restartOptions.downMs);
      env.berth = await startBerth({ ...options, args, socket, rootDir });
    },
    pods: [],
    async close() {
      try {
        await removePods(env.berth, env.pods);
      } finally {
        await env.berth.stop();
        rmSync(dirname(first.rootDir), { recursive: true, force: true });
        rmSync(cniDir, { recursive: true, force: true });
        await env.docker.close();
      }
    },
  };
  return env;
}

export async function removePods(berth: BerthProcess, pods: Pod[]): Promise<void> {
  if (berth.child.exitCode !== null) return;
  const failures: unknown[] = [];
  for (const pod of pods) {
    try {
      await berth.client.runtime.removePodSandbox({ podSandboxId: pod.id });
    } catch (err) {
      failures.push(err);
    }
    if (pod.logDirectory !== "") rmSync(pod.logDirectory, { recursive: true, force: true });
  }
  if (failures.length > 0) throw failures[0];
}

export interface Pod {
  id: string;
  config: SandboxConfigInit;
  /** The pause container's PID on the host. */
  pid: number;
  logDirectory: string;
}

/** RunPodSandbox with test/support/pods.ts's config (overrides merged at the top level). */
export async function runPod(
  env: ContainerEnv,
  name: string,
  overrides: Parameters<typeof podConfig>[1] = {},
): Promise<Pod> {
  const config = podConfig(name, overrides);
  const { podSandboxId } = await env.berth.client.runtime.runPodSandbox({ config });
  const pod: Pod = { id: podSandboxId, config, pid: 0, logDirectory: config.logDirectory ?? "" };
  env.pods.push(pod);
  pod.pid = (await env.docker.inspectContainer(podSandboxId)).State.Pid;
  return pod;
}

/** A container config as the kubelet sends it: busybox, a log path, labels and annotations. */
export function containerConfig(
  name: string,
  overrides: Partial<ContainerConfigInit> = {},
): ContainerConfigInit {
  return {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX, userSpecifiedImage: BUSYBOX },
    command: ["sleep", "3600"],
    logPath: `${name}/0.log`,
    labels: { "io.kubernetes.container.name": name, "berth.test/container": name },
    annotations: { "berth.test/container-annotation": `of ${name}` },
    ...overrides,
  };
}

export interface Container {
  id: string;
  pod: Pod;
  config: ContainerConfigInit;
  /** The CRI log file: the sandbox's log_directory joined with the config's log_path. */
  logPath: string;
}

export async function createContainer(
  env: ContainerEnv,
  pod: Pod,
  config: ContainerConfigInit,
): Promise<Container> {
  const { containerId } = await env.berth.client.runtime.createContainer({
    podSandboxId: pod.id,
    config,
    sandboxConfig: pod.config,
  });
  return {
    id: containerId,
    pod,
    config,
    logPath: config.logPath ? join(pod.logDirectory, config.logPath) : "",
  };
}

/** CreateContainer, then StartContainer; answers with the main process's host PID. */
export async function runContainer(
  env: ContainerEnv,
  pod: Pod,
  config: ContainerConfigInit,
): Promise<Container & { pid: number }> {
  const container = await createContainer(env, pod, config);
  await env.berth.client.runtime.startContainer({ containerId: container.id });
  const inspect = await env.docker.inspectContainer(container.id);
  return { ...container, pid: inspect.State.Pid };
}

export async function containerStatus(
  env: ContainerEnv,
  id: string,
  verbose = false,
): Promise<ContainerStatus & { info: Record<string, string> }> {
  const response = await env.berth.client.runtime.containerStatus({ containerId: id, verbose });
  assert.ok(response.status, "ContainerStatus answers a status");
  return Object.assign(response.status, { info: response.info });
}

/** Polls ContainerStatus until the container is in `state` (default EXITED). */
export async function waitForState(
  env: ContainerEnv,
  id: string,
  state: ContainerState = ContainerState.CONTAINER_EXITED,
  timeoutMs = 20_000,
): Promise<ContainerStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await containerStatus(env, id);
    if (status.state === state) return status;
    if (Date.now() > deadline) {
      assert.fail(
        `container ${id} not ${ContainerState[state]} within ${timeoutMs} ms (${ContainerState[status.state]})`,
      );
    }
    await sleep(100);
  }
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One field of /proc/<pid>/status ("CapEff", "NoNewPrivs", "Seccomp", "Uid", ...). */
export function procStatus(pid: number, field: string): string {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s*(.*)$`, "m").exec(text);
  assert.ok(match, `/proc/${pid}/status has no ${field}`);
  return (match[1] ?? "").trim();
}

/** This process's own capability bounding set (the host's, for berth running beside it). */
export function hostCapBnd(): bigint {
  return BigInt(`0x${procStatus(process.pid, "CapBnd")}`);
}

export function capMask(hex: string): bigint {
  return BigInt(`0x${hex}`);
}

export interface CriLine {
  time: string;
  stream: "stdout" | "stderr";
  tag: "P" | "F";
  text: string;
}

const CRI_LINE = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s;
const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/;

/** Reads a CRI log file, asserting every line has the kubelet's format; "" for a missing file. */
export function readCriLog(path: string): CriLine[] {
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  if (text === "") return [];
  assert.ok(text.endsWith("\n"), `${path} ends with a whole line`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((raw) => {
      const m = CRI_LINE.exec(raw);
      assert.ok(m, `not a CRI log line: ${JSON.stringify(raw.slice(0, 120))}`);
      const [, time, stream, tag, text] = m as unknown as [string, string, string, string, string];
      assert.match(time, RFC3339_NANO, "RFC3339Nano in UTC, as Go writes it");
      return { time, stream: stream as CriLine["stream"], tag: tag as CriLine["tag"], text };
    });
}

/** The text of the complete lines of one stream (P pieces joined to their F). */
export function logText(lines: CriLine[], stream: "stdout" | "stderr" = "stdout"): string[] {
  const result: string[] = [];
  let pending = "";
  for (const line of lines) {
    if (line.stream !== stream) continue;
    pending += line.text;
    if (line.tag === "F") {
      result.push(pending);
      pending = "";
    }
  }
  if (pending !== "") result.push(pending);
  return result;
}

/** Runs a container that prints and exits; answers its stdout lines once it EXITED. */
export async function outputOf(
  env: ContainerEnv,
  pod: Pod,
  name: string,
  script: string,
  overrides: Partial<ContainerConfigInit> = {},
): Promise<{ lines: string[]; stderr: string[]; status: ContainerStatus; container: Container }> {
  const container = await createContainer(
    env,
    pod,
    containerConfig(name, { command: ["sh", "-c", script], ...overrides }),
  );
  await env.berth.client.runtime.startContainer({ containerId: container.id });
  const status = await waitForState(env, container.id);
  const log = readCriLog(container.logPath);
  return { lines: logText(log), stderr: logText(log, "stderr"), status, container };
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
