/**
 * berth's benchmark (`npm run bench`): starts berth against the real engine, creates N pods of
 * M containers, and measures what the kubelet does most: pod start, relist, stats, status,
 * teardown, berth's memory, and the node's CPU under the kubelet's steady polling. The same run
 * times the raw engine doing the same container work plus the CNI ADD, so berth's overhead is
 * reported as a ratio. Results go to stdout and to a JSON file under bench/results/.
 *
 *   npm run bench -- --pods 20 --containers 2 --iterations 200 --steady-seconds 60
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { DockerClient } from "../src/docker/client.ts";
import { parseDockerEndpoint } from "../src/docker/endpoint.ts";
import { CniNetwork } from "../src/network/cni.ts";
import { parseNetworkConfig } from "../src/network/cni-config.ts";
import { startBerth } from "../test/support/berth-process.ts";
import { loadFixtures } from "../test/support/fixtures.ts";
import { podConfig } from "../test/support/pods.ts";
import { cpuSeconds, pidsNamed, rssMiB } from "./proc.ts";
import { type Summary, summarize, timed } from "./stats.ts";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "20" },
    containers: { type: "string", default: "2" },
    iterations: { type: "string", default: "200" },
    "stats-iterations": { type: "string", default: "30" },
    "steady-seconds": { type: "string", default: "60" },
    output: { type: "string" },
  },
});
const PODS = Number(values.pods);
const CONTAINERS = Number(values.containers);
const ITERATIONS = Number(values.iterations);
const STATS_ITERATIONS = Number(values["stats-iterations"]);
const STEADY_SECONDS = Number(values["steady-seconds"]);

const fx = loadFixtures();
const APP_IMAGE = fx.images.busybox;
const NETWORK = "berth-bench";
const SUBNET = "10.66.0.0/16";
const work = mkdtempSync(join(tmpdir(), "berth-bench-"));
const cniDir = join(work, "cni");
mkdirSync(cniDir);
const networkJson = JSON.stringify({
  cniVersion: "1.0.0",
  name: NETWORK,
  plugins: [
    {
      type: "bridge",
      bridge: "berthbench0",
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: "host-local", ranges: [[{ subnet: SUBNET }]], routes: [{ dst: "0.0.0.0/0" }] },
    },
    { type: "portmap", capabilities: { portMappings: true }, snat: true },
    { type: "firewall" },
  ],
});
writeFileSync(join(cniDir, "10-berth-bench.conflist"), networkJson);

const docker = new DockerClient(
  parseDockerEndpoint({
    host: "unix:///var/run/docker.sock",
    tlsVerify: false,
    certPath: undefined,
  }),
);
const progress = (text: string) => process.stderr.write(`\r\x1b[K${text}`);
const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  scale: { pods: PODS, containersPerPod: CONTAINERS },
};
const summaries: Record<string, Summary> = {};

async function rawEngineBaseline(): Promise<number[]> {
  const cni = new CniNetwork(parseNetworkConfig(networkJson, join(cniDir, "raw.conflist")), {
    cacheDir: join(work, "raw-cni-cache"),
    log: pino({ level: "silent" }),
  });
  const samples: number[] = [];
  const made: Array<{ pause: string; pid: number; apps: string[] }> = [];
  try {
    for (let i = 0; i < PODS; i++) {
      progress(`raw engine: pod ${i + 1}/${PODS}`);
      const pod = await timed(samples, async () => {
        const pause = (
          await docker.createContainer(`berth-bench-raw-${process.pid}-${i}`, {
            Image: fx.pauseImage,
            Labels: { "io.berth.bench": "raw" },
            HostConfig: { NetworkMode: "none", IpcMode: "shareable" },
          })
        ).Id;
        await docker.startContainer(pause);
        const pid = (await docker.inspectContainer(pause)).State.Pid;
        await cni.add({
          containerId: pause,
          netnsPath: `/proc/${pid}/ns/net`,
          podName: `raw-${i}`,
          podNamespace: "bench",
          podUid: `raw-${i}`,
        });
        const apps: string[] = [];
        for (let j = 0; j < CONTAINERS; j++) {
          const app = (
            await docker.createContainer(`berth-bench-raw-${process.pid}-${i}-${j}`, {
              Image: APP_IMAGE,
              Cmd: ["sleep", "3600"],
              Labels: { "io.berth.bench": "raw" },
              HostConfig: {
                NetworkMode: `container:${pause}`,
                IpcMode: `container:${pause}`,
              },
            })
          ).Id;
          await docker.startContainer(app);
          apps.push(app);
        }
        return { pause, pid, apps };
      });
      made.push(pod);
    }
  } finally {
    for (const [i, pod] of made.entries()) {
      progress(`raw engine: cleanup ${i + 1}/${made.length}`);
      // DEL while the namespace is alive: without it the bridge plugin leaves its NAT chain.
      await cni
        .del({ containerId: pod.pause, netnsPath: `/proc/${pod.pid}/ns/net` })
        .catch(() => {});
      for (const id of [...pod.apps, pod.pause]) await docker.removeContainer(id).catch(() => {});
    }
  }
  return samples;
}

async function main() {
  const rawStart = await rawEngineBaseline();
  summaries.rawPodStart = summarize(rawStart);

  const berth = await startBerth({
    args: ["--cni-conf-dir", cniDir, "--log-level", "warn", "--no-default-network"],
  });
  const berthPid = berth.child.pid as number;
  const client = berth.client;
  const pods: Array<{ id: string; containers: string[] }> = [];
  try {
    const podStart: number[] = [];
    for (let i = 0; i < PODS; i++) {
      progress(`berth: pod start ${i + 1}/${PODS}`);
      const config = podConfig(`bench-${i}`);
      const pod = await timed(podStart, async () => {
        const { podSandboxId } = await client.runtime.runPodSandbox({ config });
        const containers: string[] = [];
        for (let j = 0; j < CONTAINERS; j++) {
          const { containerId } = await client.runtime.createContainer({
            podSandboxId,
            sandboxConfig: config,
            config: {
              metadata: { name: `app-${j}`, attempt: 0 },
              image: { image: APP_IMAGE },
              command: ["sleep", "3600"],
              logPath: `app-${j}/0.log`,
            },
          });
          await client.runtime.startContainer({ containerId });
          containers.push(containerId);
        }
        return { id: podSandboxId, containers };
      });
      pods.push(pod);
    }
    summaries.podStart = summarize(podStart);

    const measure = async (name: string, count: number, call: (i: number) => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        if (i % 10 === 0) progress(`berth: ${name} ${i}/${count}`);
        await timed(samples, () => call(i));
      }
      summaries[name] = summarize(samples);
    };
    const tryMeasure = async (
      name: string,
      count: number,
      call: (i: number) => Promise<unknown>,
    ) => {
      try {
        await measure(name, count, call);
      } catch (err) {
        results[`${name}Error`] = String((err as Error).message);
      }
    };
    await measure("relist", ITERATIONS, async () => {
      await client.runtime.listPodSandbox({});
      await client.runtime.listContainers({});
    });
    await measure("podSandboxStatus", ITERATIONS, (i) =>
      client.runtime.podSandboxStatus({ podSandboxId: pods[i % pods.length]?.id ?? "" }),
    );
    await measure("containerStatus", ITERATIONS, (i) => {
      const pod = pods[i % pods.length];
      return client.runtime.containerStatus({ containerId: pod?.containers[0] ?? "" });
    });
    await measure("status", ITERATIONS, () => client.runtime.status({}));
    await tryMeasure("listContainerStats", STATS_ITERATIONS, () =>
      client.runtime.listContainerStats({}),
    );
    await tryMeasure("listPodSandboxStats", STATS_ITERATIONS, () =>
      client.runtime.listPodSandboxStats({}),
    );
    results.berthRssMiB = Math.round(rssMiB(berthPid) * 10) / 10;

    if (STEADY_SECONDS > 0) results.steady = await steadyPolling(berthPid, client);

    const teardown: number[] = [];
    for (const [i, pod] of pods.entries()) {
      progress(`berth: stop/remove ${i + 1}/${pods.length}`);
      await timed(teardown, async () => {
        await client.runtime.stopPodSandbox({ podSandboxId: pod.id });
        await client.runtime.removePodSandbox({ podSandboxId: pod.id });
      });
    }
    pods.length = 0;
    summaries.stopRemove = summarize(teardown);
  } finally {
    for (const pod of pods)
      await client.runtime.removePodSandbox({ podSandboxId: pod.id }).catch(() => {});
    await berth.stop();
    await docker.close();
    rmSync(work, { recursive: true, force: true });
  }
  progress("");
  report();
}

/**
 * The kubelet's steady polling: a relist every second and both stats calls every ten, for
 * the given time. Measures CPU seconds used by berth, dockerd and Docker's containerd, and
 * whether the cadence was kept.
 */
async function steadyPolling(
  berthPid: number,
  client: Awaited<ReturnType<typeof startBerth>>["client"],
) {
  const engine = pidsNamed(["dockerd", "containerd"]);
  const cpu = () => ({
    berth: cpuSeconds(berthPid),
    engine: engine.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
  });
  const before = cpu();
  const started = performance.now();
  let rounds = 0;
  for (let second = 0; second < STEADY_SECONDS; second++) {
    progress(`steady polling: ${second + 1}/${STEADY_SECONDS} s`);
    const due = started + second * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await client.runtime.listPodSandbox({});
    await client.runtime.listContainers({});
    if (second % 10 === 0) {
      await client.runtime.listContainerStats({}).catch(() => {});
      await client.runtime.listPodSandboxStats({}).catch(() => {});
    }
    rounds++;
  }
  const elapsed = (performance.now() - started) / 1000;
  const after = cpu();
  const berthCpu = after.berth - before.berth;
  const engineCpu = after.engine - before.engine;
  return {
    seconds: STEADY_SECONDS,
    rounds,
    elapsedSeconds: Math.round(elapsed * 10) / 10,
    keptCadence: elapsed < STEADY_SECONDS + 1.5,
    berthCpuSecondsPerMinute: round((berthCpu * 60) / elapsed),
    engineCpuSecondsPerMinute: round((engineCpu * 60) / elapsed),
    totalCpuSecondsPerMinute: round(((berthCpu + engineCpu) * 60) / elapsed),
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function report() {
  results.summaries = summaries;
  const podStart = summaries.podStart?.median ?? Number.NaN;
  const raw = summaries.rawPodStart?.median ?? Number.NaN;
  results.podStartRatioToRawEngine = round(podStart / raw);
  const line = (name: string) => {
    const s = summaries[name];
    if (!s) return `  ${name.padEnd(22)} (not measured: ${results[`${name}Error`] ?? "skipped"})`;
    return `  ${name.padEnd(22)} median ${s.median.toFixed(2).padStart(9)} ms   p90 ${s.p90.toFixed(2).padStart(9)} ms   n=${s.n}`;
  };
  const out = [
    `berth benchmark: ${PODS} pods x ${CONTAINERS} containers`,
    line("rawPodStart"),
    line("podStart"),
    `  pod start / raw engine work: ${String(results.podStartRatioToRawEngine)}x`,
    line("stopRemove"),
    line("relist"),
    line("listContainerStats"),
    line("listPodSandboxStats"),
    line("podSandboxStatus"),
    line("containerStatus"),
    line("status"),
    `  berth resident memory: ${String(results.berthRssMiB)} MiB`,
  ];
  if (results.steady) out.push(`  steady polling: ${JSON.stringify(results.steady)}`);
  const file =
    values.output ??
    join(import.meta.dirname, "results", `bench-${PODS}x${CONTAINERS}-${Date.now()}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  out.push(`  results: ${file}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
