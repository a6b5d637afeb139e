import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";
import {
  finishSpdySession,
  openSpdySession,
  type SpdySession,
} from "../support/remote-command-client.ts";
import { eventually } from "../support/streaming-pods.ts";

/**
 * Nothing in berth grows with calls, pods or time: after 200 pod lifecycles, GetContainerEvents
 * subscribers that come and go, and 500 exec sessions open at once, berth holds as many file
 * descriptors and listening sockets as before (once idle engine connections have timed out),
 * and the 500 sessions fit in bounded memory and descriptors.
 */
const fx = loadFixtures();
const cniDir = mkdtempSync(join(tmpdir(), "berth-bounded-cni-"));
// Smaller counts for a quick look by hand (the suite runs the full ones).
const POD_LIFECYCLES = Number(process.env.BERTH_BOUNDED_PODS ?? 200);
const POD_CONCURRENCY = 8;
const EXEC_SESSIONS = Number(process.env.BERTH_BOUNDED_EXECS ?? 500);
const EXEC_BATCH = 25;
/** berth closes engine connections idle for 10 s; the fd count settles after that. */
const SETTLE_MS = 30_000;
let berth: BerthProcess;
let pid: number;
let execPod: string;
let execContainer: string;

before(async () => {
  writeTestNetwork(cniDir);
  berth = await startBerth({ args: ["--cni-conf-dir", cniDir, "--log-level", "info"] });
  pid = berth.child.pid as number;
  const config = podConfig("bounded-exec");
  execPod = (await berth.client.runtime.runPodSandbox({ config })).podSandboxId;
  execContainer = (
    await berth.client.runtime.createContainer({
      podSandboxId: execPod,
      sandboxConfig: config,
      config: {
        metadata: { name: "app", attempt: 0 },
        image: { image: fx.images.busybox },
        command: ["sleep", "3600"],
      },
    })
  ).containerId;
  await berth.client.runtime.startContainer({ containerId: execContainer });
});
after(async () => {
  await berth.client.runtime.removePodSandbox({ podSandboxId: execPod });
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
});

function rssMiB(of: number): number {
  const status = readFileSync(`/proc/${of}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
}

function fds(): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).map((fd) => {
    try {
      return readlinkSync(join(dir, fd));
    } catch {
      return "gone";
    }
  });
}

/** berth's listening sockets: its socket inodes that its network namespace lists as LISTEN. */
function listeners(): number {
  const inodes = new Set(
    fds()
      .map((link) => /^socket:\[(\d+)\]$/.exec(link)?.[1])
      .filter((inode) => inode !== undefined),
  );
  let count = 0;
  for (const table of ["tcp", "tcp6"]) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A" && inodes.has(fields[9] ?? "")) count++;
    }
  }
  for (const line of readFileSync(`/proc/${pid}/net/unix`, "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // Flags __SO_ACCEPTCON: a listening unix socket.
    if (fields[3] === "00010000" && inodes.has(fields[6] ?? "")) count++;
  }
  return count;
}

function describeFds(links: string[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const link of links) {
    const kind = link.replace(/\[\d+\]$/, "").replace(/^\/.*$/, "file");
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

async function podLifecycle(n: number): Promise<void> {
  const config = podConfig(`bounded-${n}`);
  const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
  const { containerId } = await berth.client.runtime.createContainer({
    podSandboxId,
    sandboxConfig: config,
    config: {
      metadata: { name: "app", attempt: 0 },
      image: { image: fx.images.busybox },
      command: ["sh", "-c", "echo started; sleep 60"],
      logPath: "app.log",
    },
  });
  await berth.client.runtime.startContainer({ containerId });
  await berth.client.runtime.stopPodSandbox({ podSandboxId });
  await berth.client.runtime.removePodSandbox({ podSandboxId });
}

async function inParallel(total: number, width: number, work: (n: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < total) await work(next++);
    }),
  );
}

/** A GetContainerEvents subscriber that reads for a moment and goes away (cancels). */
async function shortLivedSubscriber(): Promise<void> {
  const stream = berth.client.runtime.getContainerEvents({});
  const cancel = () => (stream as unknown as { cancel(): void }).cancel();
  const timer = setTimeout(cancel, 300);
  try {
    for await (const _event of stream) {
      // events of the lifecycles running meanwhile
    }
  } catch {
    // cancelled
  } finally {
    clearTimeout(timer);
  }
}

async function openCat(): Promise<SpdySession> {
  const { url } = await berth.client.runtime.exec({
    containerId: execContainer,
    cmd: ["cat"],
    stdin: true,
    stdout: true,
  });
  return openSpdySession(url, { stdin: true, stdout: true });
}

async function settledTo(baseline: { fds: number; listeners: number }): Promise<void> {
  await eventually(
    () => fds().length === baseline.fds && listeners() === baseline.listeners,
    SETTLE_MS,
  );
}

// A bound that lets after() clean up on a very slow machine rather than be killed mid-way.
const TEST_TIMEOUT_MS = 900_000;

test(`fds and listeners are unchanged after ${POD_LIFECYCLES} pod lifecycles and ${EXEC_SESSIONS} exec sessions`, {
  timeout: TEST_TIMEOUT_MS,
}, async (t) => {
  const started = Date.now();
  // Warm-up: whatever berth creates once (engine connections, the netns helper, zlib) exists.
  await inParallel(POD_CONCURRENCY, POD_CONCURRENCY, podLifecycle);
  for (const session of await Promise.all(Array.from({ length: 3 }, openCat))) {
    await session.stdin?.end();
    await finishSpdySession(session);
  }
  await shortLivedSubscriber();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const baselineFds = fds();
  const baseline = { fds: baselineFds.length, listeners: listeners() };
  const baselineRss = rssMiB(pid);
  t.diagnostic(
    `baseline: ${baseline.fds} fds ${JSON.stringify(describeFds(baselineFds))}, ${baseline.listeners} listeners, rss ${baselineRss.toFixed(1)} MiB`,
  );

  const subscribers = (async () => {
    for (let i = 0; i < 20; i++) await shortLivedSubscriber();
  })();
  await inParallel(POD_LIFECYCLES, POD_CONCURRENCY, podLifecycle);
  await subscribers;
  t.diagnostic(
    `${POD_LIFECYCLES} pod lifecycles done after ${Math.round((Date.now() - started) / 1000)} s`,
  );

  const sessions: SpdySession[] = [];
  while (sessions.length < EXEC_SESSIONS) {
    const batch = Math.min(EXEC_BATCH, EXEC_SESSIONS - sessions.length);
    sessions.push(...(await Promise.all(Array.from({ length: batch }, openCat))));
  }
  // Every session live at once: each echoes through its own process.
  await Promise.all(sessions.map((s, i) => s.stdin?.write(`session ${i}\n`)));
  const echoed = () => sessions.filter((s, i) => s.stdout?.text() === `session ${i}\n`).length;
  await eventually(() => echoed() === sessions.length, 120_000);
  assert.equal(echoed(), sessions.length, "every session echoes");
  t.diagnostic(
    `${EXEC_SESSIONS} sessions echo after ${Math.round((Date.now() - started) / 1000)} s`,
  );
  const peakFds = fds();
  const peakRss = rssMiB(pid);
  t.diagnostic(
    `${EXEC_SESSIONS} sessions open: ${peakFds.length} fds ${JSON.stringify(describeFds(peakFds))}, rss ${peakRss.toFixed(1)} MiB`,
  );
  // The sessions end before anything is asserted, so that a failed bound leaves none open.
  const results = await Promise.all(
    sessions.map(async (session) => {
      await session.stdin?.end();
      return finishSpdySession(session);
    }),
  );
  assert.ok(results.every((r) => r.exitCode === 0));
  // Two sockets a session (the client's, the engine's hijacked one), plus the engine
  // connections the exec create/start calls of a batch hold for a while (kept alive 10 s).
  const bound = baseline.fds + EXEC_SESSIONS * 2 + 4 * EXEC_BATCH;
  assert.ok(peakFds.length <= bound, `${peakFds.length} fds at the peak, bound ${bound}`);
  assert.ok(peakRss - baselineRss < 256, `rss grew by ${(peakRss - baselineRss).toFixed(1)} MiB`);

  await settledTo(baseline);
  const afterFds = fds();
  t.diagnostic(
    `after settling: ${afterFds.length} fds ${JSON.stringify(describeFds(afterFds))}, ${listeners()} listeners, rss ${rssMiB(pid).toFixed(1)} MiB; test took ${Math.round((Date.now() - started) / 1000)} s`,
  );
  assert.equal(afterFds.length, baseline.fds, "open file descriptors");
  assert.equal(listeners(), baseline.listeners, "listening sockets");
});
