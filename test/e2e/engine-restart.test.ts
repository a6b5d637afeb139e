/**
 * Docker Engine stopped and started while 30 pod lifecycles are in flight. Every call either
 * succeeds or fails UNAVAILABLE / DEADLINE_EXCEEDED (what a kubelet retries), a retried
 * RunPodSandbox then gives each pod one sandbox, and teardown leaves nothing behind.
 *
 * It stops the engine behind DOCKER_HOST only when this machine's setup started it (CI), or
 * when BERTH_TEST_ENGINE_PIDFILE and BERTH_TEST_ENGINE_START name a private one
 * (test/support/engine.ts); otherwise it skips.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { PodSandboxState } from "../../src/gen/runtime/v1/api_pb.js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { TEST_NETWORK, writeTestNetwork } from "../support/cni.ts";
import { BUSYBOX, containerConfig } from "../support/containers.ts";
import { testDocker } from "../support/docker.ts";
import { DOCKER_HOST, setupEnginePid, startSetupEngine } from "../support/engine.ts";
import { podConfig, type SandboxConfigInit } from "../support/pods.ts";

const PODS = 30;
const TEST_LABEL = { "berth.test": "engine-restart" };
/** What a kubelet retries: the engine went away, or the call ran out of time meanwhile. */
const RETRYABLE = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);
/**
 * What a call about a container may answer once the restart killed its sandbox (the engine
 * stops every container when it stops): the kubelet then runs the pod's sandbox again.
 */
const SANDBOX_LOST = new Set([status.FAILED_PRECONDITION, status.NOT_FOUND]);
const CALL_TIMEOUT_MS = 30_000;
const docker = testDocker();
const dir = mkdtempSync(join(tmpdir(), "berth-engine-restart-"));
const cniDir = join(dir, "cni");
const rootDir = join(dir, "root");
const logRoot = join(dir, "logs");

interface CallOutcome {
  pod: number;
  rpc: string;
  code: status | "ok";
  details: string;
}

async function waitUntil(what: string, check: () => Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function testContainers(): Promise<Array<{ Id: string; Labels: Record<string, string> }>> {
  return (await docker.listContainers({
    label: ["io.berth.managed=true", "berth.test=engine-restart"],
  })) as Array<{ Id: string; Labels: Record<string, string> }>;
}

function listing(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** Files berth holds open under the pods' log directories: its container log writers. */
function openLogFiles(pid: number): string[] {
  const open: string[] = [];
  for (const fd of listing(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(logRoot)) open.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return open;
}

/**
 * host-local reservations and per-pod NAT rules of these sandboxes only: other berths may
 * share the test network on a developer's machine.
 */
function reservationsOf(ids: Set<string>): string[] {
  const dir = `/var/lib/cni/networks/${TEST_NETWORK}`;
  return listing(dir).filter((name) => {
    if (!name.includes(".")) return false;
    try {
      return ids.has(readFileSync(join(dir, name), "utf8").split(/\s/)[0] ?? "");
    } catch {
      return false;
    }
  });
}

function natRulesOf(ids: Set<string>): string[] {
  return execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => [...ids].some((id) => line.includes(id)));
}

function pinnedNetns(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line.includes(join(rootDir, "netns")));
}

const pid = setupEnginePid();

describe("Docker Engine restarted under load", () => {
  let berth: BerthProcess | undefined;

  after(async () => {
    // Whatever happened, leave the engine running for the rest of the suite, and no pod of
    // this test on it (a failed test's pods included: their pins keep the directory busy).
    if (pid !== undefined && setupEnginePid() === undefined) startSetupEngine();
    const runtime = berth?.client.runtime;
    const left = await runtime
      ?.listPodSandbox({ filter: { labelSelector: TEST_LABEL } })
      .catch(() => undefined);
    for (const item of left?.items ?? []) {
      for (let i = 0; i < 3; i++) {
        const removed = await runtime?.removePodSandbox({ podSandboxId: item.id }).then(
          () => true,
          () => false,
        );
        if (removed) break;
      }
    }
    await berth?.stop();
    await docker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${PODS} pod lifecycles across an engine restart: only retryable failures, one sandbox each, nothing left`, {
    skip:
      pid === undefined
        ? `the engine on ${DOCKER_HOST} was not started by this machine's setup (nor named by BERTH_TEST_ENGINE_PIDFILE): not stopping it`
        : false,
    timeout: 300_000,
  }, async (t) => {
    mkdirSync(cniDir, { recursive: true });
    writeTestNetwork(cniDir);
    const running = await startBerth({ rootDir, args: ["--cni-conf-dir", cniDir] });
    berth = running;
    const runtime = running.client.runtime;
    const berthPid = running.child.pid as number;

    const configs: SandboxConfigInit[] = Array.from({ length: PODS }, (_, i) => {
      const config = podConfig(`restart-${i}`, { labels: { ...TEST_LABEL } });
      return { ...config, logDirectory: join(logRoot, `pod-${i}`) };
    });
    const outcomes: CallOutcome[] = [];
    /** Every sandbox id berth ever answered or listed, for the leak checks. */
    const seen = new Set<string>();
    const call = async <T>(pod: number, rpc: string, made: Promise<T>): Promise<T | undefined> => {
      try {
        const answer = await made;
        outcomes.push({ pod, rpc, code: "ok", details: "" });
        return answer;
      } catch (err) {
        const failure = err as { code?: status; details?: string };
        outcomes.push({
          pod,
          rpc,
          code: failure.code ?? status.UNKNOWN,
          details: failure.details ?? String(err),
        });
        return undefined;
      }
    };
    const options = { timeoutMs: CALL_TIMEOUT_MS };

    // Each pod, as a kubelet drives it: run, a container created and started, then (two pods
    // in three) stopped and removed. A call that failed UNAVAILABLE or DEADLINE_EXCEEDED is
    // retried after a pause, as the kubelet's next sync would; a sandbox the restart killed
    // (its containers then fail FAILED_PRECONDITION / NOT_FOUND) is run again, as the kubelet
    // makes a new sandbox for a pod whose sandbox died. Pods start a quarter second apart, so
    // the engine goes down with pods in every phase.
    const deadline = Date.now() + 150_000;
    const retried = async <T>(i: number, rpc: string, make: () => Promise<T>) => {
      for (;;) {
        const answer = await call(i, rpc, make());
        if (answer !== undefined) return answer;
        const code = outcomes.findLast((o) => o.pod === i)?.code;
        if (!RETRYABLE.has(code as status)) return undefined;
        if (Date.now() > deadline) throw new Error(`pod ${i}: ${rpc} kept failing`);
        await sleep(500);
      }
    };
    const lifecycle = async (i: number) => {
      await sleep(i * 250);
      const config = configs[i] as SandboxConfigInit;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`pod ${i} never came up`);
        const run = await retried(i, "RunPodSandbox", () =>
          runtime.runPodSandbox({ config }, options),
        );
        if (!run) throw new Error(`pod ${i}: RunPodSandbox failed for good`);
        const { podSandboxId } = run;
        seen.add(podSandboxId);
        const created = await retried(i, "CreateContainer", () =>
          runtime.createContainer(
            {
              podSandboxId,
              config: containerConfig(`c${i}`, {
                metadata: { name: `c${i}`, attempt },
                image: { image: BUSYBOX },
              }),
              sandboxConfig: config,
            },
            options,
          ),
        );
        if (!created) continue;
        const started = await retried(i, "StartContainer", () =>
          runtime.startContainer({ containerId: created.containerId }, options),
        );
        if (!started) continue;
        break;
      }
      if (i % 3 === 0) return;
      const { items } = await runtime.listPodSandbox({
        filter: { labelSelector: { ...TEST_LABEL } },
      });
      for (const item of items.filter((item) => item.metadata?.uid === config.metadata?.uid)) {
        const stopped = await retried(i, "StopPodSandbox", () =>
          runtime.stopPodSandbox({ podSandboxId: item.id }, options),
        );
        const removed = await retried(i, "RemovePodSandbox", () =>
          runtime.removePodSandbox({ podSandboxId: item.id }, options),
        );
        if (!stopped || !removed) throw new Error(`pod ${i}: teardown failed for good`);
      }
    };
    const load = Promise.allSettled(configs.map((_, i) => lifecycle(i)));

    await waitUntil(
      "a few pods to run",
      async () => outcomes.filter((o) => o.rpc === "RunPodSandbox" && o.code === "ok").length >= 6,
      120_000,
    );
    const enginePid = setupEnginePid() as number;
    process.kill(enginePid, "SIGTERM");
    await waitUntil("dockerd to exit", async () => setupEnginePid() === undefined, 60_000);
    t.diagnostic(`engine stopped after ${outcomes.length} calls`);
    await sleep(1000);
    startSetupEngine();
    const settled = await load;

    const failures = outcomes.filter((o) => o.code !== "ok");
    const byCode = new Map<string, number>();
    for (const o of outcomes) {
      const key = `${o.rpc} ${o.code === "ok" ? "OK" : status[o.code]}`;
      byCode.set(key, (byCode.get(key) ?? 0) + 1);
    }
    t.diagnostic(
      `${outcomes.length} calls, ${failures.length} failed; by RPC and code: ${[...byCode].map(([key, n]) => `${key}=${n}`).join(", ")}`,
    );
    // How many of those were 5xx answers berth told apart as the engine going away.
    const shutdownAnswers = failures.filter((o) =>
      /\((and then Docker Engine stopped answering new connections|and Docker Engine went away while it ran)/.test(
        o.details,
      ),
    );
    t.diagnostic(`${shutdownAnswers.length} of them were 5xx answers of the engine going away`);
    const unexpected = failures.filter(
      (o) =>
        !RETRYABLE.has(o.code as status) &&
        !(
          (o.rpc === "CreateContainer" || o.rpc === "StartContainer") &&
          SANDBOX_LOST.has(o.code as status) &&
          /pod sandbox \S+ (is not running|stopped while it started)|is CONTAINER_EXITED|not found/.test(
            o.details,
          )
        ),
    );
    assert.deepEqual(
      unexpected.map((o) => `pod ${o.pod} ${o.rpc}: ${status[o.code as status]}: ${o.details}`),
      [],
      "every failed call failed UNAVAILABLE or DEADLINE_EXCEEDED (or, about a container whose sandbox the restart killed, said so)",
    );
    assert.deepEqual(
      settled.filter((r) => r.status === "rejected").map((r) => String(r.reason)),
      [],
      "every pod's lifecycle finished once the engine was back",
    );

    await waitUntil(
      "RuntimeReady",
      async () =>
        (await runtime.status({})).status?.conditions.find((c) => c.type === "RuntimeReady")
          ?.status === true,
      60_000,
    );

    // The kubelet retries RunPodSandbox for every pod it still wants; twice, as after a
    // timeout: one ready sandbox and one pause container per pod.
    const ids: string[] = [];
    for (const config of configs) {
      const first = await runtime.runPodSandbox({ config }, options);
      const again = await runtime.runPodSandbox({ config }, options);
      assert.equal(again.podSandboxId, first.podSandboxId, "the retry answers the same sandbox");
      ids.push(first.podSandboxId);
      seen.add(first.podSandboxId);
    }
    const sandboxes = await runtime.listPodSandbox({ filter: { labelSelector: TEST_LABEL } });
    for (const [i, config] of configs.entries()) {
      const uid = config.metadata?.uid;
      const mine = sandboxes.items.filter((item) => item.metadata?.uid === uid);
      const ready = mine.filter((item) => item.state === PodSandboxState.SANDBOX_READY);
      assert.deepEqual(
        ready.map((item) => item.id),
        [ids[i]],
        `pod ${i}: one ready sandbox`,
      );
    }
    const pauses = (await testContainers()).filter((c) => c.Labels["io.berth.kind"] === "sandbox");
    for (const [i, config] of configs.entries()) {
      const uid = config.metadata?.uid;
      const running = [];
      for (const pause of pauses.filter((p) => p.Labels["io.kubernetes.pod.uid"] === uid)) {
        if ((await docker.inspectContainer(pause.Id)).State.Running) running.push(pause.Id);
      }
      assert.deepEqual(running, [ids[i]], `pod ${i}: one running pause container`);
    }

    // Teardown of everything the pods ever had, the sandboxes of failed attempts included.
    const all = await runtime.listPodSandbox({ filter: { labelSelector: TEST_LABEL } });
    for (const item of all.items) {
      seen.add(item.id);
      await runtime.stopPodSandbox({ podSandboxId: item.id }, options);
      await runtime.removePodSandbox({ podSandboxId: item.id }, options);
    }
    assert.deepEqual(
      (await runtime.listPodSandbox({ filter: { labelSelector: TEST_LABEL } })).items,
      [],
    );
    assert.deepEqual(
      (await testContainers()).map((c) => c.Id),
      [],
      "no pause container left",
    );
    // The pods' own containers carry their sandbox's id, not the pods' labels.
    const ofPods = (await docker.listContainers({ label: ["io.berth.managed=true"] })).filter((c) =>
      seen.has(c.Labels?.["io.berth.sandbox-id"] ?? ""),
    );
    assert.deepEqual(
      ofPods.map((c) => `${c.Id} ${c.Names?.[0] ?? ""} ${c.State}`),
      [],
      "no container of any pod left",
    );
    assert.deepEqual(reservationsOf(seen), [], "no IP reservation left");
    assert.deepEqual(natRulesOf(seen), [], "no per-pod NAT rule left");
    assert.deepEqual(listing(join(rootDir, "sandboxes")), [], "no checkpoint left");
    assert.deepEqual(pinnedNetns(), [], "no network namespace pinned");
    assert.deepEqual(listing(join(rootDir, "netns")), [], "no netns pin file left");
    await waitUntil(
      "log writers to close",
      async () => openLogFiles(berthPid).length === 0,
      10_000,
    );
    assert.equal(running.child.exitCode, null, "berth kept running");
  });
});
