/**
 * berth's benchmark (`npm run bench`): starts berth against the real engine ($DOCKER_HOST, else
 * /var/run/docker.sock), creates N pods of M containers, and measures what the kubelet does
 * most: pod start, relist, stats, status, teardown, resident memory over churn rounds, and CPU
 * under the kubelet's steady polling and with nobody calling, split per process (the runtime,
 * dockerd + containerd, the shims). The same run times the raw engine doing the same container
 * work plus the CNI ADD, so berth's overhead is reported as a ratio, and `--compare` runs the
 * same load against another CRI endpoint started by hand (containerd's CRI, cri-dockerd).
 * Results go to stdout and to a JSON file under bench/results/. See bench/README.md.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { DockerClient } from "../src/docker/client.ts";
import { parseDockerEndpoint } from "../src/docker/endpoint.ts";
import { CniNetwork } from "../src/network/cni.ts";
import { parseNetworkConfig } from "../src/network/cni-config.ts";
import { BERTH_NETWORK_FILE, defaultNetworkJson } from "../src/network/default-network.ts";
import { SERVICE_ENV, startBerth } from "../test/support/berth-process.ts";
import { loadFixtures } from "../test/support/fixtures.ts";
import { CpuMeter, type CpuWindows, type ProcessGroups } from "./cpu-meter.ts";
import { summarizeProfile } from "./cpu-profile.ts";
import { type CriDriver, MEASURED_CALLS, type PodSpec, type StartedPod } from "./driver.ts";
import { GoDriver } from "./go-driver.ts";
import { JsDriver } from "./js-driver.ts";
import {
  childrenNamed,
  commOf,
  containerdAddress,
  loadAverage,
  rssMiB,
  socketOwner,
  socketPath,
} from "./proc.ts";
import { type Summary, summarize, timed } from "./stats.ts";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "20" },
    containers: { type: "string", default: "2" },
    iterations: { type: "string", default: "200" },
    "stats-iterations": { type: "string", default: "30" },
    "steady-seconds": { type: "string", default: "60" },
    "idle-seconds": { type: "string", default: "60" },
    "churn-rounds": { type: "string", default: "3" },
    network: { type: "string", default: "default" },
    client: { type: "string", default: "js" },
    "kubelet-client": { type: "string" },
    compare: { type: "string" },
    "compare-only": { type: "boolean", default: false },
    "skip-raw": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    output: { type: "string" },
  },
});
const PODS = Number(values.pods);
const CONTAINERS = Number(values.containers);
const ITERATIONS = Number(values.iterations);
const STATS_ITERATIONS = Number(values["stats-iterations"]);
const STEADY_SECONDS = Number(values["steady-seconds"]);
const IDLE_SECONDS = Number(values["idle-seconds"]);
const CHURN_ROUNDS = Math.max(1, Number(values["churn-rounds"]));
const NETWORK_MODE = values.network;
if (NETWORK_MODE !== "default" && NETWORK_MODE !== "bridge")
  throw new Error(`--network is default or bridge, not ${NETWORK_MODE}`);
if (values.client !== "js" && values.client !== "go")
  throw new Error(`--client is go or js, not ${values.client}`);

const fx = loadFixtures();
const APP_IMAGE = fx.images.busybox;
const DOCKER_HOST = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
// A bridge, subnet and network name of this run's own: other runs and tests on the machine
// use berth0, 10.88/16 and their own bridges.
const RUN_ID = process.pid % 50;
const NETWORK = `berth-bench-${RUN_ID}`;
const BRIDGE = `berthbench${RUN_ID}`;
const SUBNET = `10.${200 + RUN_ID}.0.0/16`;
/** Under every cgroup v1 controller (or the v2 root); what the kubelet's pod cgroups would be. */
const CGROUP_PARENT = `berth-bench-${process.pid}`;
const work = mkdtempSync(join(tmpdir(), "berth-bench-"));
const cniDir = join(work, "cni");
mkdirSync(cniDir);
/**
 * default: berth's own network (bridge, portmap, firewall, bandwidth) as berth writes it into an
 * empty CNI config dir, under this run's names. bridge: bridge + portmap (+ firewall, which
 * Docker's FORWARD policy needs), the conflist earlier benchmarks used.
 */
const networkJson =
  NETWORK_MODE === "default"
    ? defaultNetworkJson(SUBNET, { name: NETWORK, bridge: BRIDGE })
    : JSON.stringify({
        cniVersion: "1.0.0",
        name: NETWORK,
        plugins: [
          {
            type: "bridge",
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: {
              type: "host-local",
              ranges: [[{ subnet: SUBNET }]],
              routes: [{ dst: "0.0.0.0/0" }],
            },
          },
          { type: "portmap", capabilities: { portMappings: true }, snat: true },
          { type: "firewall" },
        ],
      });
writeFileSync(
  join(cniDir, NETWORK_MODE === "default" ? BERTH_NETWORK_FILE : "10-berth-bench.conflist"),
  networkJson,
);

const docker = new DockerClient(
  parseDockerEndpoint({ host: DOCKER_HOST, tlsVerify: false, certPath: undefined }),
);
/**
 * Ctrl-C or SIGTERM: finish the phase under way, remove the pods made so far, stop berth and
 * report what was measured. A second signal exits at once.
 */
let interrupted = false;
class Interrupted extends Error {}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: tearing down what was made, then reporting\n`);
  });
}
const checkInterrupted = () => {
  if (interrupted) throw new Interrupted();
};
const progress = (text: string) => process.stderr.write(`\r\x1b[K${text}`);
const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The dockerd serving $DOCKER_HOST and its containerd, found by their sockets. */
function engineProcesses(): { dockerd?: number; containerd?: number; shimAddress?: string } {
  const dockerd = socketOwner(socketPath(DOCKER_HOST));
  if (!dockerd) return {};
  const containerd =
    childrenNamed(dockerd, "containerd")[0] ?? socketOwner("/run/containerd/containerd.sock");
  return {
    dockerd,
    containerd,
    shimAddress: containerd ? containerdAddress(containerd) : undefined,
  };
}

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

interface Growth {
  first10Median: number;
  last10Median: number;
  ratio: number;
}

/** How much slower the last ten of a series of pod starts were than the first ten. */
function growth(samples: number[]): Growth {
  const first = summarize(samples.slice(0, 10)).median;
  const last = summarize(samples.slice(-10)).median;
  return { first10Median: first, last10Median: last, ratio: last / first };
}

/** One CRI endpoint under test and the processes whose CPU and memory count for it. */
interface Target {
  label: string;
  endpoint: string;
  groups: () => ProcessGroups;
  runtimePid: number;
  /** Where the runtime's CPU profile lands (berth with --cpu-prof only). */
  profileDir?: string;
  stop(): Promise<void>;
}

function makeDriver(endpoint: string): CriDriver {
  if (values.client === "js") return new JsDriver(endpoint);
  const binary =
    values["kubelet-client"] ??
    join(import.meta.dirname, "kubelet-client", "bin", "kubelet-client");
  return new GoDriver(binary, endpoint);
}

async function berthTarget(): Promise<Target> {
  const profileDir = values["cpu-prof"] ? join(work, "cpu-profile") : undefined;
  const berth = await startBerth({
    args: ["--cni-conf-dir", cniDir, "--log-level", "warn", "--no-default-network"],
    env: {
      ...SERVICE_ENV,
      ...(profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}),
    },
  });
  const pid = berth.child.pid as number;
  const engine = engineProcesses();
  return {
    label: "berth",
    endpoint: berth.endpoint,
    runtimePid: pid,
    profileDir,
    groups: () => ({
      runtime: [pid],
      engine: [engine.dockerd, engine.containerd].filter((p): p is number => p !== undefined),
      shimAddress: engine.shimAddress,
    }),
    async stop() {
      await berth.stop();
    },
  };
}

/**
 * Another runtime listening on `endpoint`. A containerd serves CRI itself: all of its CPU is
 * "runtime". Anything else (cri-dockerd) is counted with the engine behind $DOCKER_HOST.
 */
function peerTarget(endpoint: string): Target {
  const pid = socketOwner(socketPath(endpoint));
  if (!pid) throw new Error(`--compare ${endpoint}: nothing listens on that socket`);
  const name = commOf(pid);
  const engine = name === "containerd" ? {} : engineProcesses();
  const shimAddress = name === "containerd" ? containerdAddress(pid) : engine.shimAddress;
  return {
    label: name,
    endpoint,
    runtimePid: pid,
    groups: () => ({
      runtime: [pid],
      engine: [engine.dockerd, engine.containerd].filter((p): p is number => p !== undefined),
      shimAddress,
    }),
    async stop() {},
  };
}

interface TargetResult {
  label: string;
  endpoint: string;
  client: string;
  loadAverage: { before: number[]; after: number[] };
  summaries: Record<string, Summary>;
  podStartGrowth?: Growth;
  teardownSeconds: number[];
  steady?: CpuWindows & { rounds: number; elapsedSeconds: number; errors: number };
  idle?: CpuWindows;
  rssMiB: { podsRunning: number[]; afterRemoval: number[]; engineWithPods?: number };
  profile?: ReturnType<typeof summarizeProfile>;
  errors: Record<string, string>;
  interrupted?: boolean;
}

async function runTarget(target: Target): Promise<TargetResult> {
  const driver = makeDriver(target.endpoint);
  const meter = new CpuMeter(target.groups);
  const result: TargetResult = {
    label: target.label,
    endpoint: target.endpoint,
    client: driver.kind,
    loadAverage: { before: loadAverage(), after: [] },
    summaries: {},
    teardownSeconds: [],
    rssMiB: { podsRunning: [], afterRemoval: [] },
    errors: {},
  };
  const logRoot = join(work, "logs", target.label);
  const pods: StartedPod[] = [];
  const uids: string[] = [];
  const podStartAll: number[] = [];
  const teardownAll: number[] = [];
  let profileWindow: { from: bigint; to: bigint } | undefined;
  try {
    await driver.ensureImage(APP_IMAGE);
    for (let churn = 0; churn < CHURN_ROUNDS; churn++) {
      const roundStart: number[] = [];
      for (let i = 0; i < PODS; i++) {
        checkInterrupted();
        progress(`${target.label}: round ${churn + 1}/${CHURN_ROUNDS} pod start ${i + 1}/${PODS}`);
        const uid = randomUUID();
        const spec: PodSpec = {
          name: `bench-${churn}-${i}-${uid.slice(0, 8)}`,
          uid,
          namespace: "berth-bench",
          logDirectory: join(logRoot, uid),
          image: APP_IMAGE,
          containers: CONTAINERS,
          cgroupParent: `/${CGROUP_PARENT}/pod${uid}`,
        };
        for (let j = 0; j < CONTAINERS; j++)
          mkdirSync(join(spec.logDirectory, `app-${j}`), { recursive: true });
        const pod = await driver.runPod(spec);
        roundStart.push(pod.ms);
        pods.push(pod);
        uids.push(uid);
      }
      podStartAll.push(...roundStart);
      result.summaries[`podStartRound${churn + 1}`] = summarize(roundStart);
      if (churn === 0) {
        result.summaries.podStart = summarize(roundStart);
        result.podStartGrowth = growth(roundStart);
        for (const call of MEASURED_CALLS) {
          checkInterrupted();
          const n =
            call.startsWith("list") && call.endsWith("Stats") ? STATS_ITERATIONS : ITERATIONS;
          progress(`${target.label}: ${call} x ${n}`);
          try {
            result.summaries[call] = summarize(await driver.measure(call, n, pods));
          } catch (err) {
            result.errors[call] = (err as Error).message;
          }
        }
        checkInterrupted();
        if (STEADY_SECONDS > 0) {
          progress(`${target.label}: steady polling ${STEADY_SECONDS} s`);
          const from = process.hrtime.bigint();
          const metering = meter.during(STEADY_SECONDS);
          const polled = await driver.poll(STEADY_SECONDS, pods, uids);
          const windows = await metering;
          profileWindow = { from, to: process.hrtime.bigint() };
          result.steady = {
            ...windows,
            rounds: polled.rounds,
            elapsedSeconds: round(polled.elapsedSeconds, 1),
            errors: polled.errors,
          };
          for (const [name, samples] of Object.entries(polled.latencies))
            result.summaries[`polled.${name}`] = summarize(samples);
        }
        checkInterrupted();
        if (IDLE_SECONDS > 0) {
          progress(`${target.label}: idle ${IDLE_SECONDS} s, nobody calling`);
          result.idle = await meter.during(IDLE_SECONDS);
        }
        const engine = target.groups().engine;
        result.rssMiB.engineWithPods = round(
          engine.reduce((sum, pid) => sum + rssMiB(pid), 0),
          1,
        );
      }
      result.rssMiB.podsRunning.push(round(rssMiB(target.runtimePid), 1));
      const roundTeardown: number[] = [];
      const teardownStarted = performance.now();
      const total = pods.length;
      // Shifted off one by one, so that an interrupted run's cleanup sees only what is left.
      for (let pod = pods[0]; pod; pod = pods[0]) {
        progress(
          `${target.label}: round ${churn + 1}/${CHURN_ROUNDS} stop/remove ${total - pods.length + 1}/${total}`,
        );
        roundTeardown.push(await driver.removePod(pod.podId));
        pods.shift();
        uids.shift();
      }
      result.teardownSeconds.push(round((performance.now() - teardownStarted) / 1000, 1));
      teardownAll.push(...roundTeardown);
      if (churn === 0) result.summaries.stopRemove = summarize(roundTeardown);
      // Let the runtime's background work after removals settle before reading its memory.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      result.rssMiB.afterRemoval.push(round(rssMiB(target.runtimePid), 1));
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    result.interrupted = true;
  } finally {
    result.summaries.podStartAllRounds = summarize(podStartAll);
    result.summaries.stopRemoveAllRounds = summarize(teardownAll);
    for (const pod of pods) {
      progress(`${target.label}: removing pod ${pod.podId.slice(0, 12)}`);
      await driver.removePod(pod.podId).catch(() => {});
    }
    await driver.close();
    result.loadAverage.after = loadAverage();
    await target.stop();
  }
  if (target.profileDir && profileWindow) {
    const files = readdirSync(target.profileDir).filter((f) => f.endsWith(".cpuprofile"));
    const file = files[0];
    if (file) {
      const kept = join(resultsDir(), `berth-${Date.now()}.cpuprofile`);
      mkdirSync(dirname(kept), { recursive: true });
      copyFileSync(join(target.profileDir, file), kept);
      result.profile = summarizeProfile(kept, profileWindow);
    }
  }
  return result;
}

/** The kubelet removes a pod's cgroup after the pod; runc leaves the parents it made. */
function removePodCgroups() {
  const roots = existsSync("/sys/fs/cgroup/cgroup.controllers")
    ? ["/sys/fs/cgroup"]
    : readdirSync("/sys/fs/cgroup").map((name) => join("/sys/fs/cgroup", name));
  for (const root of roots) {
    const parent = join(root, CGROUP_PARENT);
    if (!existsSync(parent)) continue;
    for (const pod of readdirSync(parent, { withFileTypes: true }))
      if (pod.isDirectory()) rmdirQuietly(join(parent, pod.name));
    rmdirQuietly(parent);
  }
}

function rmdirQuietly(path: string) {
  try {
    rmdirSync(path);
  } catch {
    // still in use, or a symlinked controller seen twice
  }
}

const resultsDir = () => join(import.meta.dirname, "results");

async function main() {
  const started = new Date().toISOString();
  const version = await docker.version();
  let rawStart: Summary | undefined;
  let rawGrowth: Growth | undefined;
  const targets: TargetResult[] = [];
  try {
    if (!values["compare-only"]) {
      if (!values["skip-raw"]) {
        const raw = await rawEngineBaseline();
        rawStart = summarize(raw);
        // The engine's own growth with the pod count, next to berth's (podStartGrowth).
        rawGrowth = growth(raw);
      }
      targets.push(await runTarget(await berthTarget()));
    }
    if (values.compare && !interrupted) targets.push(await runTarget(peerTarget(values.compare)));
  } finally {
    await docker.close();
    rmSync(work, { recursive: true, force: true });
    removePodCgroups();
    // The bridge plugin makes the bridge and never removes it.
    spawnSync("ip", ["link", "delete", BRIDGE], { stdio: "ignore" });
    // host-local's state for the network: every address was released with its pod.
    rmSync(join("/var/lib/cni/networks", NETWORK), { recursive: true, force: true });
  }
  progress("");
  report({
    startedAt: started,
    engine: { host: DOCKER_HOST, version: version.Version, apiVersion: version.ApiVersion },
    scale: { pods: PODS, containersPerPod: CONTAINERS, churnRounds: CHURN_ROUNDS },
    network: NETWORK_MODE,
    client: values.client,
    rawPodStart: rawStart,
    rawPodStartGrowth: rawGrowth,
    targets,
  });
}

type Results = {
  startedAt: string;
  engine: { host: string; version: string; apiVersion: string };
  scale: { pods: number; containersPerPod: number; churnRounds: number };
  network: string;
  client: string | undefined;
  rawPodStart?: Summary;
  rawPodStartGrowth?: Growth;
  targets: TargetResult[];
};

/** Rows of the report: label, and how to read the figure (median, p90) from one target. */
const ROWS: Array<[string, (t: TargetResult) => [number, number] | undefined, string]> = [
  ["CPU-s/min runtime, polled", (t) => cpu(t.steady, "runtime"), "s"],
  ["CPU-s/min dockerd+containerd, polled", (t) => cpu(t.steady, "engine"), "s"],
  ["CPU-s/min shims, polled", (t) => cpu(t.steady, "shims"), "s"],
  ["CPU-s/min all, polled", (t) => cpu(t.steady, "total"), "s"],
  ["CPU-s/min runtime, idle", (t) => cpu(t.idle, "runtime"), "s"],
  ["CPU-s/min dockerd+containerd, idle", (t) => cpu(t.idle, "engine"), "s"],
  ["pod start", (t) => ms(t.summaries.podStart), "ms"],
  ["pod start, all rounds", (t) => ms(t.summaries.podStartAllRounds), "ms"],
  ["stop+remove", (t) => ms(t.summaries.stopRemove), "ms"],
  ["relist", (t) => ms(t.summaries.relist), "ms"],
  ["relist, polled", (t) => ms(t.summaries["polled.relist"]), "ms"],
  ["ListContainerStats", (t) => ms(t.summaries.listContainerStats), "ms"],
  ["ListPodSandboxStats", (t) => ms(t.summaries.listPodSandboxStats), "ms"],
  ["PodSandboxStatus", (t) => ms(t.summaries.podSandboxStatus), "ms"],
  ["ContainerStatus", (t) => ms(t.summaries.containerStatus), "ms"],
  ["Status", (t) => ms(t.summaries.status), "ms"],
  ["pod status sync, polled", (t) => ms(t.summaries["polled.podStatus"]), "ms"],
];

function cpu(windows: CpuWindows | undefined, group: keyof CpuWindows["perMinute"]) {
  if (!windows) return undefined;
  return [windows.perMinute[group], windows.p90PerMinute[group]] as [number, number];
}

function ms(summary: Summary | undefined): [number, number] | undefined {
  return summary ? [summary.median, summary.p90] : undefined;
}

function report(results: Results) {
  const cell = (value: [number, number] | undefined) =>
    value ? `${value[0].toFixed(2)} (p90 ${value[1].toFixed(2)})` : "-";
  const labels = results.targets.map((t) => t.label);
  const out = [
    `berth benchmark: ${results.scale.pods} pods x ${results.scale.containersPerPod} containers, ` +
      `Docker ${results.engine.version} (API ${results.engine.apiVersion}) on ${results.engine.host}, ` +
      `network ${results.network}, client ${results.client}`,
    ...results.targets.map(
      (t) =>
        `  ${t.label}: load average before ${t.loadAverage.before.join(" ")}, after ${t.loadAverage.after.join(" ")}`,
    ),
    `  ${"figure (median, p90)".padEnd(42)}${labels.map((l) => l.padEnd(26)).join("")}${labels.length > 1 ? "ratio" : ""}`,
  ];
  for (const [name, read, unit] of ROWS) {
    const cells = results.targets.map((t) => read(t));
    if (cells.every((c) => c === undefined)) continue;
    const [first, second] = cells;
    const ratio = first && second && second[0] > 0 ? `${(first[0] / second[0]).toFixed(2)}x` : "";
    out.push(
      `  ${`${name} (${unit})`.padEnd(42)}${cells.map((c) => cell(c).padEnd(26)).join("")}${ratio}`,
    );
  }
  for (const t of results.targets) {
    out.push(
      `  ${t.label}: resident MiB with pods running ${t.rssMiB.podsRunning.join(" / ")}, after removal ${t.rssMiB.afterRemoval.join(" / ")}; engine with pods ${t.rssMiB.engineWithPods ?? "-"}`,
      `  ${t.label}: teardown of ${results.scale.pods} pods (s) per round ${t.teardownSeconds.join(" / ")}`,
    );
    if (t.podStartGrowth)
      out.push(
        `  ${t.label}: pod start first 10 median ${t.podStartGrowth.first10Median.toFixed(1)} ms, last 10 ${t.podStartGrowth.last10Median.toFixed(1)} ms (${t.podStartGrowth.ratio.toFixed(2)}x)`,
      );
    if (t.steady)
      out.push(
        `  ${t.label}: polling rounds ${t.steady.rounds} in ${t.steady.elapsedSeconds} s, errors ${t.steady.errors}`,
      );
    for (const [call, message] of Object.entries(t.errors))
      out.push(`  ${t.label}: ${call} failed: ${message}`);
    if (t.profile) {
      out.push(`  ${t.label}: CPU profile under polling (self time, top files):`);
      for (const row of t.profile.files.slice(0, 15))
        out.push(`    ${row.percent.toFixed(1).padStart(5)}%  ${row.name}`);
      out.push(`  ${t.label}: by module:`);
      for (const row of t.profile.modules.slice(0, 10))
        out.push(`    ${row.percent.toFixed(1).padStart(5)}%  ${row.name}`);
    }
  }
  if (results.rawPodStart) {
    const berth = results.targets.find((t) => t.label === "berth")?.summaries.podStart;
    out.push(
      `  raw engine pod work: median ${results.rawPodStart.median.toFixed(1)} ms (p90 ${results.rawPodStart.p90.toFixed(1)})` +
        (berth
          ? `; berth's pod start is ${(berth.median / results.rawPodStart.median).toFixed(2)}x`
          : ""),
    );
    const g = results.rawPodStartGrowth;
    if (g) {
      out.push(
        `  raw engine pod work: first 10 median ${g.first10Median.toFixed(1)} ms, last 10 ${g.last10Median.toFixed(1)} ms (${g.ratio.toFixed(2)}x)`,
      );
    }
  }
  const file =
    values.output ??
    join(
      resultsDir(),
      `bench-${results.scale.pods}x${results.scale.containersPerPod}-api${results.engine.apiVersion}-${Date.now()}.json`,
    );
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  out.push(`  results: ${file}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
