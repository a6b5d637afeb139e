import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { NamespaceMode } from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { testDocker } from "../support/docker.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";
import {
  finishSpdySession,
  openSpdySession,
  type SpdySession,
} from "../support/remote-command-client.ts";
import { eventually } from "../support/streaming-pods.ts";

/**
 * A pod torn down while many exec sessions into its container are open: StopPodSandbox and
 * RemovePodSandbox finish well within the kubelet's runtime request timeout, every session
 * ends with the container (its client sees the streams close and the exit code the protocol
 * carries), other CRI calls are not held up by the open sessions meanwhile, and nothing is
 * left behind. Both with the container in its pod's PID namespace (where the engine's shim,
 * left to kill the exec'd processes itself, stalled the stop for a minute and Docker 20.10
 * never closed the sessions) and in its own.
 */
const fx = loadFixtures();
const cniDir = mkdtempSync(join(tmpdir(), "berth-teardown-cni-"));
// A smaller count for a quick look by hand (the suite runs the full one).
const EXEC_SESSIONS = Number(process.env.BERTH_TEARDOWN_EXECS ?? 100);
const EXEC_BATCH = 25;
/** The kubelet's default --runtime-request-timeout. */
const KUBELET_REQUEST_TIMEOUT_MS = 120_000;
/** berth closes engine connections idle for 10 s; the fd count settles after that. */
const SETTLE_MS = 30_000;
/** Docker reports an exec'd process killed by SIGKILL as 128 + 9. */
const KILLED_EXIT_CODE = 137;
let berth: BerthProcess;
let pid: number;
/** berth's open descriptors once warmed up (engine connections, zlib, the netns helper). */
let baselineFds: number;
/** Every pod the test ran, removed in after() should the test fail half-way. */
const pods: string[] = [];

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({ args: ["--cni-conf-dir", cniDir, "--log-level", "debug"] });
  pid = berth.child.pid as number;
  const warm = await runPod("teardown-warm", NamespaceMode.POD);
  const warmSession = await openCat(warm.containerId);
  await warmSession.stdin?.end();
  await within(finishSpdySession(warmSession), 60_000, () => "the warm-up session did not end");
  await berth.client.runtime.removePodSandbox({ podSandboxId: warm.podSandboxId });
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  baselineFds = fdCount();
});
after(async () => {
  for (const podSandboxId of pods) {
    await berth.client.runtime.removePodSandbox({ podSandboxId }).catch(() => {});
  }
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
});

function fdCount(): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A pod whose app container's PID namespace is `pid`: POD as crictl sends it, CONTAINER as the kubelet. */
async function runPod(
  name: string,
  pidMode: NamespaceMode,
): Promise<{ podSandboxId: string; containerId: string }> {
  const config = podConfig(name);
  const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
  pods.push(podSandboxId);
  const { containerId } = await berth.client.runtime.createContainer({
    podSandboxId,
    sandboxConfig: config,
    config: {
      metadata: { name: "app", attempt: 0 },
      image: { image: fx.images.busybox },
      command: ["sleep", "3600"],
      linux: { securityContext: { namespaceOptions: { pid: pidMode } } },
    },
  });
  await berth.client.runtime.startContainer({ containerId });
  return { podSandboxId, containerId };
}

async function openCat(containerId: string): Promise<SpdySession> {
  const { url } = await berth.client.runtime.exec({
    containerId,
    cmd: ["cat"],
    stdin: true,
    stdout: true,
  });
  return openSpdySession(url, { stdin: true, stdout: true });
}

/** `work`, failing with `what` if it has not settled within `ms`. */
async function within<T>(work: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

function secondsSince(started: number): string {
  return ((performance.now() - started) / 1000).toFixed(2);
}

// A bound that lets after() clean up on a very slow machine rather than be killed mid-way.
const TEST_TIMEOUT_MS = 600_000;

for (const [pidNamespace, mode] of [
  ["the pod's", NamespaceMode.POD],
  ["its own", NamespaceMode.CONTAINER],
] as const) {
  test(`a pod with ${EXEC_SESSIONS} open exec sessions into a container in ${pidNamespace} PID namespace stops and is removed; the sessions end with it`, {
    timeout: TEST_TIMEOUT_MS,
  }, async (t) => {
    try {
      await teardownWithSessions(t, mode);
    } catch (err) {
      t.diagnostic(`berth's last output:\n${berth.output().slice(-6000)}`);
      throw err;
    }
  });
}

async function teardownWithSessions(
  t: { diagnostic(message: string): void },
  pidMode: NamespaceMode,
): Promise<void> {
  const pod = await runPod("teardown", pidMode);
  const sessions: SpdySession[] = [];
  while (sessions.length < EXEC_SESSIONS) {
    const batch = Math.min(EXEC_BATCH, EXEC_SESSIONS - sessions.length);
    const opened = Promise.all(Array.from({ length: batch }, () => openCat(pod.containerId)));
    sessions.push(...(await within(opened, 60_000, () => `${batch} more sessions did not open`)));
  }
  await Promise.all(sessions.map((s, i) => s.stdin?.write(`session ${i}\n`)));
  const echoed = () => sessions.filter((s, i) => s.stdout?.text() === `session ${i}\n`).length;
  await eventually(() => echoed() === sessions.length, 120_000);
  assert.equal(echoed(), sessions.length, "every session echoes before the teardown");
  t.diagnostic(`${EXEC_SESSIONS} sessions open: ${fdCount()} fds (baseline ${baselineFds})`);

  // While they are open, calls on the same engine are answered, a new pod's included.
  let started = performance.now();
  const listed = await berth.client.runtime.listContainers({});
  assert.ok(listed.containers.some((c) => c.id === pod.containerId));
  const status = await berth.client.runtime.containerStatus({ containerId: pod.containerId });
  assert.equal(status.status?.id, pod.containerId);
  const other = await runPod("teardown-other", pidMode);
  await berth.client.runtime.removePodSandbox({ podSandboxId: other.podSandboxId });
  t.diagnostic(`list, status and another pod's run and remove: ${secondsSince(started)} s`);

  started = performance.now();
  let endedCount = 0;
  const ended = sessions.map(async (session) => {
    const result = await finishSpdySession(session);
    endedCount++;
    return { result, seconds: (performance.now() - started) / 1000 };
  });
  await berth.client.runtime.stopPodSandbox(
    { podSandboxId: pod.podSandboxId },
    { timeoutMs: KUBELET_REQUEST_TIMEOUT_MS },
  );
  t.diagnostic(`StopPodSandbox: ${secondsSince(started)} s`);
  await berth.client.runtime.removePodSandbox(
    { podSandboxId: pod.podSandboxId },
    { timeoutMs: KUBELET_REQUEST_TIMEOUT_MS },
  );
  t.diagnostic(`StopPodSandbox and RemovePodSandbox: ${secondsSince(started)} s`);

  const results = await within(
    Promise.all(ended),
    KUBELET_REQUEST_TIMEOUT_MS,
    () => `only ${endedCount} of ${EXEC_SESSIONS} sessions ended after the pod's removal`,
  );
  const last = Math.max(...results.map((r) => r.seconds));
  t.diagnostic(`every session ended ${last.toFixed(2)} s after the stop began`);
  const codes = new Map<string, number>();
  for (const { result } of results) {
    const key = String(result.exitCode ?? result.status);
    codes.set(key, (codes.get(key) ?? 0) + 1);
  }
  assert.deepEqual(
    [...codes],
    [[String(KILLED_EXIT_CODE), EXEC_SESSIONS]],
    "every session reports the exit code of its killed process",
  );

  const docker = testDocker();
  try {
    for (const id of [pod.containerId, pod.podSandboxId]) {
      assert.equal(await docker.findContainer(id), undefined, `container ${id} is removed`);
    }
  } finally {
    await docker.close();
  }
  const listedAfter = await berth.client.runtime.listPodSandbox({});
  assert.ok(!listedAfter.items.some((p) => p.id === pod.podSandboxId), "the sandbox is gone");
  await eventually(() => fdCount() === baselineFds, SETTLE_MS);
  assert.equal(fdCount(), baselineFds, "berth's open file descriptors are back to the baseline");
}
