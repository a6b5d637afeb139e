/**
 * berth's soak (`npm run soak`, by hand, not CI): kubelet-shaped churn for a long time against
 * the engine in DOCKER_HOST — pods created and removed continuously, a relist every second,
 * stats every 10 s, an exec every few seconds — counting failed calls and sampling berth's
 * resident memory and open file descriptors every minute. The summary says whether calls failed
 * and whether memory and descriptors stayed flat after the warm-up.
 *
 *   DOCKER_HOST=unix:///var/run/docker28.sock npm run soak -- --minutes 60
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type BerthProcess, SERVICE_ENV, startBerth } from "../test/support/berth-process.ts";
import { loadFixtures } from "../test/support/fixtures.ts";
import { podConfig } from "../test/support/pods.ts";
import { execOverSpdy } from "../test/support/remote-command-client.ts";
import { rssMiB } from "./proc.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "60" },
    "warmup-minutes": { type: "string", default: "5" },
    pods: { type: "string", default: "6" },
    "exec-seconds": { type: "string", default: "3" },
    "sample-seconds": { type: "string", default: "60" },
  },
});
const MINUTES = Number(values.minutes);
const WARMUP_MINUTES = Math.min(Number(values["warmup-minutes"]), MINUTES / 2);
const PODS = Number(values.pods);
const EXEC_MS = Number(values["exec-seconds"]) * 1000;
const SAMPLE_MS = Number(values["sample-seconds"]) * 1000;

const fx = loadFixtures();
// A network of the soak's own, so a soak never shares IPAM or a bridge with the tests.
const NETWORK = "berth-soak";
const work = mkdtempSync(join(tmpdir(), "berth-soak-"));
const cniDir = join(work, "cni");
mkdirSync(cniDir);
writeFileSync(
  join(cniDir, "10-berth-soak.conflist"),
  JSON.stringify({
    cniVersion: "1.0.0",
    name: NETWORK,
    plugins: [
      {
        type: "bridge",
        bridge: "berthsoak0",
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: "10.69.0.0/24" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "firewall" },
    ],
  }),
);

interface Sample {
  minute: number;
  rssMiB: number;
  fds: number;
  pods: number;
}
const calls = new Map<string, { ok: number; failed: number }>();
const failures: string[] = [];
const samples: Sample[] = [];
const live: Array<{ id: string; containerId: string }> = [];
const started = Date.now();
const endAt = started + MINUTES * 60_000;
let stopping = false;

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** One CRI call, counted; a failure is recorded with its message and answers undefined. */
async function call<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  const counts = calls.get(name) ?? { ok: 0, failed: 0 };
  calls.set(name, counts);
  try {
    const result = await run();
    counts.ok++;
    return result;
  } catch (err) {
    counts.failed++;
    const line = `${new Date().toISOString()} ${name}: ${err instanceof Error ? err.message : String(err)}`;
    failures.push(line);
    process.stderr.write(`FAILED ${line}\n`);
    return undefined;
  }
}

async function startPod(berth: BerthProcess, n: number): Promise<void> {
  const config = podConfig(`soak-${n}`, { labels: { "berth.test": "soak" } });
  const sandbox = await call("RunPodSandbox", () => berth.client.runtime.runPodSandbox({ config }));
  if (!sandbox) return;
  const podSandboxId = sandbox.podSandboxId;
  const created = await call("CreateContainer", () =>
    berth.client.runtime.createContainer({
      podSandboxId,
      sandboxConfig: config,
      config: {
        metadata: { name: "app", attempt: 0 },
        image: { image: fx.images.busybox },
        command: ["sh", "-c", "while true; do echo tick; sleep 5; done"],
        logPath: "app/0.log",
      },
    }),
  );
  if (!created) {
    await removePod(berth, podSandboxId);
    return;
  }
  await call("StartContainer", () =>
    berth.client.runtime.startContainer({ containerId: created.containerId }),
  );
  live.push({ id: podSandboxId, containerId: created.containerId });
}

async function removePod(berth: BerthProcess, podSandboxId: string, containerId?: string) {
  if (containerId) {
    await call("StopContainer", () =>
      berth.client.runtime.stopContainer({ containerId, timeout: 2n }),
    );
    await call("RemoveContainer", () => berth.client.runtime.removeContainer({ containerId }));
  }
  await call("StopPodSandbox", () => berth.client.runtime.stopPodSandbox({ podSandboxId }));
  await call("RemovePodSandbox", () => berth.client.runtime.removePodSandbox({ podSandboxId }));
}

/** Keeps PODS pods alive, replacing the oldest one by a new one, continuously. */
async function churn(berth: BerthProcess): Promise<void> {
  let n = 0;
  while (!stopping) {
    if (live.length < PODS) {
      await startPod(berth, n++);
      continue;
    }
    const oldest = live.shift();
    if (oldest) await removePod(berth, oldest.id, oldest.containerId);
    await sleep(1000);
  }
}

/** The kubelet's PLEG relist: sandboxes and containers, every second. */
async function relist(berth: BerthProcess): Promise<void> {
  while (!stopping) {
    await call("ListPodSandbox", () => berth.client.runtime.listPodSandbox({}));
    await call("ListContainers", () => berth.client.runtime.listContainers({}));
    await sleep(1000);
  }
}

/** cAdvisor-less stats, as the kubelet's summary API polls them. */
async function stats(berth: BerthProcess): Promise<void> {
  while (!stopping) {
    await call("ListContainerStats", () => berth.client.runtime.listContainerStats({}));
    await call("ListPodSandboxStats", () => berth.client.runtime.listPodSandboxStats({}));
    await sleep(10_000);
  }
}

/** An exec (streamed, as kubectl exec) and an ExecSync (as a probe) on a live pod. */
async function exec(berth: BerthProcess): Promise<void> {
  while (!stopping) {
    const pod = live[Math.floor(Math.random() * live.length)];
    if (pod) {
      const { containerId } = pod;
      // A pod may be torn down by the churn meanwhile: only exec into one still live.
      const still = () => live.includes(pod);
      const url = await call("Exec", () =>
        berth.client.runtime.exec({ containerId, cmd: ["echo", "soak"], stdout: true }),
      );
      if (url && still()) {
        await call("exec session", async () => {
          const result = await execOverSpdy(url.url, { stdout: true });
          if (result.stdout !== "soak\n" && still()) {
            throw new Error(`exec answered ${JSON.stringify(result)}`);
          }
        });
      }
      if (still()) {
        await call("ExecSync", () =>
          berth.client.runtime.execSync({ containerId, cmd: ["true"], timeout: 10n }),
        );
      }
    }
    await sleep(EXEC_MS);
  }
}

function sample(berth: BerthProcess): void {
  const pid = berth.child.pid as number;
  const s = {
    minute: Math.round((Date.now() - started) / 6_000) / 10,
    rssMiB: Math.round(rssMiB(pid) * 10) / 10,
    fds: fdCount(pid),
    pods: live.length,
  };
  samples.push(s);
  const failed = [...calls.values()].reduce((sum, c) => sum + c.failed, 0);
  const total = [...calls.values()].reduce((sum, c) => sum + c.ok + c.failed, 0);
  process.stdout.write(
    `[soak] minute ${s.minute}: rss ${s.rssMiB} MiB, fds ${s.fds}, live pods ${s.pods}, calls ${total}, failed ${failed}\n`,
  );
}

function sleep(ms: number): Promise<void> {
  const left = endAt - Date.now();
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, left))));
}

/** Least-squares slope of a figure over the samples, per hour: ~0 when it stays flat. */
function slopePerHour(xs: Sample[], pick: (s: Sample) => number): string {
  if (xs.length < 2) return "n/a";
  const mx = xs.reduce((sum, s) => sum + s.minute, 0) / xs.length;
  const my = xs.reduce((sum, s) => sum + pick(s), 0) / xs.length;
  const num = xs.reduce((sum, s) => sum + (s.minute - mx) * (pick(s) - my), 0);
  const den = xs.reduce((sum, s) => sum + (s.minute - mx) ** 2, 0);
  return den === 0 ? "n/a" : ((num / den) * 60).toFixed(1);
}

function summary(): boolean {
  const afterWarmup = samples.filter((s) => s.minute >= WARMUP_MINUTES);
  const range = (pick: (s: Sample) => number) => {
    const xs = afterWarmup.map(pick);
    return xs.length ? { min: Math.min(...xs), max: Math.max(...xs) } : undefined;
  };
  const first = samples[0];
  const warm = afterWarmup[0];
  const last = samples.at(-1);
  const rss = range((s) => s.rssMiB);
  const rssSlope = slopePerHour(afterWarmup, (s) => s.rssMiB);
  const fdSlope = slopePerHour(afterWarmup, (s) => s.fds);
  const fds = range((s) => s.fds);
  const failed = [...calls.values()].reduce((sum, c) => sum + c.failed, 0);
  const total = [...calls.values()].reduce((sum, c) => sum + c.ok + c.failed, 0);
  const lines = [
    `[soak] summary: ${MINUTES} min on ${process.env.DOCKER_HOST ?? "the default engine"}, warm-up ${WARMUP_MINUTES} min`,
    `[soak] calls: ${total}, failed: ${failed}`,
    ...[...calls].map(([name, c]) => `[soak]   ${name}: ${c.ok} ok, ${c.failed} failed`),
    `[soak] rss MiB: start ${first?.rssMiB}, warm ${warm?.rssMiB}, end ${last?.rssMiB}; after warm-up min ${rss?.min} max ${rss?.max}, trend ${rssSlope} MiB/h`,
    `[soak] fds: start ${first?.fds}, warm ${warm?.fds}, end ${last?.fds}; after warm-up min ${fds?.min} max ${fds?.max}, trend ${fdSlope} /h`,
    ...failures.slice(0, 20).map((line) => `[soak] failure: ${line}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return failed === 0;
}

const socket = join(work, "berth.sock");
const rootDir = join(work, "root");
const berth = await startBerth({
  socket,
  rootDir,
  onlyArgs: true,
  env: SERVICE_ENV,
  args: [
    "--listen",
    `unix://${socket}`,
    "--root-directory",
    rootDir,
    "--cni-conf-dir",
    cniDir,
    // info, not the tests' debug: an hour of debug lines would only fill this process's memory.
    "--log-level",
    "info",
  ],
});
process.stdout.write(
  `[soak] berth pid ${berth.child.pid}; ${MINUTES} min, ${PODS} pods, exec every ${EXEC_MS / 1000} s\n`,
);
sample(berth);
const sampler = setInterval(() => sample(berth), SAMPLE_MS);
const workers = [churn(berth), relist(berth), stats(berth), exec(berth)];
await sleep(MINUTES * 60_000);
stopping = true;
await Promise.all(workers);
clearInterval(sampler);
sample(berth);
for (const pod of live.splice(0)) await removePod(berth, pod.id, pod.containerId);
const ok = summary();
await berth.stop();
rmSync(work, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
