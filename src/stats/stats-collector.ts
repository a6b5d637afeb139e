import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { messageOf } from "../errors.ts";
import { isHostNetwork } from "../runtime/sandbox-convert.ts";
import type { ContainerRecord, ProcessState, SandboxRecord } from "../store/records.ts";
import type { StateStore, StoreChange } from "../store/state-store.ts";
import {
  type CgroupDirs,
  type CgroupMounts,
  cgroupDirsOfPid,
  isContainerCgroup,
  parentDirs,
  readCgroupMounts,
} from "./cgroup-paths.ts";
import {
  CgroupReader,
  type CgroupSample,
  LEVEL_RANK,
  nowNs,
  type ReadLevel,
  sumSamples,
} from "./cgroup-reader.ts";
import { CpuRates } from "./cpu-rate.ts";
import { type InterfaceCounters, readNetDev } from "./network-stats.ts";
import { PreadFiles } from "./pread-files.ts";
import { type LayerUsage, mountSourceOf, WritableLayers } from "./writable-layer.ts";

/**
 * berth's source of container and pod statistics: the cgroup filesystem, the pods' network
 * namespaces and the background writable-layer measurements, never Docker's stats API. A
 * stats call costs cgroup reads only (one pread per file on kept-open handles); the engine is
 * asked nothing on that path.
 *
 * The cgroup directories of each container are found once from /proc/<pid>/cgroup of its
 * main process and cached while it runs; handles, directories and CPU history are dropped when
 * the store reports the container stopped or removed.
 */

/** A sample with the CPU rate computed against the owner's history. */
export interface RatedSample extends CgroupSample {
  /** usage_nano_cores; undefined until a sample at least a second older exists. */
  nanoCores?: bigint;
}

export interface PodSample {
  /** The pod's CPU and memory: its pod cgroup, or the sum of its containers and pause. */
  pod: RatedSample | undefined;
  /** Running containers' samples by id. */
  containers: Map<string, RatedSample>;
  /** The pod's processes: the sum of its containers' (the pause process not counted). */
  processCount: bigint | undefined;
  /** undefined for host-network pods (the host's counters are not the pod's). */
  network: { timestamp: bigint; interfaces: InterfaceCounters[] } | undefined;
}

export interface StatsCollectorOptions {
  store: StateStore;
  log: Logger;
  /**
   * The upper directory of a container's writable layer (overlay2's GraphDriver.Data.UpperDir),
   * asked once per container in the background; undefined when the driver has none.
   */
  upperDirOf: (id: string, signal: AbortSignal) => Promise<string | undefined>;
  /** The engine's data root (DockerRootDir): the writable layers' fs_id, as in ImageFsInfo. */
  dataRoot: () => Promise<string>;
  /** Background CPU sampling, so usage_nano_cores has a base on the first call. */
  sampleIntervalMs?: number;
  /**
   * The background sampler reads a cgroup only when its newest CPU sample is older than this:
   * under the kubelet's polling the calls keep every series fresh, and a node nobody asks
   * reads each cgroup once per this age instead of once per sampling interval.
   */
  sampleMaxAgeMs?: number;
  /** Between two measurements of one writable layer. */
  layerIntervalMs?: number;
  /**
   * How long one cgroup sample answers later calls (1 s): the kubelet asks ListContainerStats
   * and ListPodSandboxStats back to back, and each sample carries the time it was read.
   */
  sampleReuseMs?: number;
  /** Tests: a fake cgroup tree and procfs. */
  mounts?: CgroupMounts;
  procRoot?: string;
}

interface CachedDirs {
  pid: number;
  dirs: CgroupDirs;
}

/** A sample kept for reuse: read at `at` (monotonic ms) from the process `pid`'s cgroup. */
interface RecentSample {
  at: number;
  pid: number;
  rank: number;
  sample: RatedSample;
}

const podKey = (sandboxId: string) => `pod:${sandboxId}`;
/** A paused container keeps its cgroup (frozen); the CRI reports it RUNNING. */
const hasCgroup = (process: ProcessState) =>
  process.status === "running" || process.status === "paused";
const netKey = (sandboxId: string) => `net:${sandboxId}`;

export class StatsCollector {
  readonly #store: StateStore;
  readonly #log: Logger;
  readonly #options: StatsCollectorOptions;
  readonly #files = new PreadFiles();
  readonly #reader = new CgroupReader(this.#files);
  readonly #rates = new CpuRates();
  readonly #dirs = new Map<string, CachedDirs>();
  readonly #netPids = new Map<string, number>();
  readonly #recent = new Map<string, RecentSample>();
  readonly #layers: WritableLayers;
  #mounts: Promise<CgroupMounts> | undefined;
  #mountpoint: string | undefined;
  #device: string | undefined;
  #mountpointLoad: Promise<string> | undefined;
  #sampler: NodeJS.Timeout | undefined;
  #sampling = false;
  #unsubscribe: (() => void) | undefined;

  constructor(options: StatsCollectorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.log;
    if (options.mounts) this.#mounts = Promise.resolve(options.mounts);
    this.#layers = new WritableLayers({
      store: options.store,
      log: options.log,
      upperDirOf: options.upperDirOf,
      intervalMs: options.layerIntervalMs ?? 60_000,
    });
    // Cleanup follows the store even before start(): handles must never outlive a container.
    this.#unsubscribe = options.store.subscribe((change) => this.#onChange(change));
  }

  /** Starts the background work: CPU sampling and writable-layer measurement. */
  start(): void {
    this.#layers.start();
    void this.fsMountpoint().catch(() => {});
    const interval = this.#options.sampleIntervalMs ?? 10_000;
    if (!this.#sampler && interval > 0) {
      this.#sampler = setInterval(() => void this.#sampleCpu(), interval);
      this.#sampler.unref();
      void this.#sampleCpu();
    }
  }

  async stop(): Promise<void> {
    if (this.#sampler) clearInterval(this.#sampler);
    this.#sampler = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#layers.stop();
    await this.#files.releaseAll();
  }

  /** The filesystem identifier of writable layers: the engine's data root. */
  async fsMountpoint(): Promise<string> {
    if (this.#mountpoint !== undefined) return this.#mountpoint;
    this.#mountpointLoad ??= this.#options.dataRoot().then(
      async (root) => {
        const mountinfo = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
        this.#device = mountSourceOf(root, mountinfo) ?? root;
        this.#mountpoint = root;
        return root;
      },
      (err: unknown) => {
        this.#mountpointLoad = undefined;
        throw err;
      },
    );
    return this.#mountpointLoad;
  }

  /** The device of the writable layers' filesystem: the "device" label of fs metrics. */
  get fsDevice(): string {
    return this.#device ?? this.#mountpoint ?? "";
  }

  layer(id: string): LayerUsage | undefined {
    return this.#layers.get(id);
  }

  /** Measures a writable layer now (tests; the background job does this on its own). */
  measureLayer(id: string): Promise<LayerUsage | undefined> {
    return this.#layers.measure(id);
  }

  /** A running container's sample, or undefined (not running, or its cgroup is gone). */
  async sampleContainer(
    record: ContainerRecord,
    level: ReadLevel,
  ): Promise<RatedSample | undefined> {
    return this.#reused(record.id, record.process.pid, level, async () => {
      const sample = await this.#sampleOwn(record.id, record.process, level);
      return sample && this.#rate(record.id, sample);
    });
  }

  /** The pod-level sample, the running containers' samples and the network counters. */
  async samplePod(
    sandbox: SandboxRecord,
    containers: ContainerRecord[],
    level: ReadLevel,
    options: { network?: boolean } = {},
  ): Promise<PodSample> {
    const running = sandbox.process.status === "running";
    const hasPodCgroup = (sandbox.config.linux?.cgroupParent ?? "") !== "";
    const [containerSamples, pod, network] = await Promise.all([
      Promise.all(containers.map((record) => this.sampleContainer(record, level))),
      running ? this.#samplePodCgroup(sandbox, hasPodCgroup, level) : undefined,
      running && options.network !== false ? this.#network(sandbox) : undefined,
    ]);
    const samples = new Map<string, RatedSample>();
    containers.forEach((record, i) => {
      const sample = containerSamples[i];
      if (sample) samples.set(record.id, sample);
    });
    let podSample: RatedSample | undefined;
    if (hasPodCgroup) {
      podSample = pod;
    } else if (running) {
      // No pod cgroup: the pod is its containers plus the pause container.
      const parts = [...samples.values()];
      if (pod) parts.push(pod);
      podSample = await this.#reused(podKey(sandbox.id), sandbox.process.pid, level, async () => {
        const summed = sumSamples(parts, pod?.timestamp ?? nowNs());
        return summed.cpu ? this.#rate(podKey(sandbox.id), summed) : undefined;
      });
    }
    let processCount: bigint | undefined;
    if (level === "pod" || level === "metrics") {
      for (const sample of samples.values()) {
        if (sample.pids) processCount = (processCount ?? 0n) + sample.pids.current;
      }
      if (running) processCount ??= 0n;
    }
    return { pod: podSample, containers: samples, processCount, network };
  }

  /** Handles open, files read, CPU series and cached directories: for tests and debugging. */
  get sizes(): {
    handles: number;
    reads: number;
    series: number;
    dirs: number;
    recent: number;
  } {
    return {
      handles: this.#files.size,
      reads: this.#files.reads,
      series: this.#rates.size,
      dirs: this.#dirs.size,
      recent: this.#recent.size,
    };
  }

  // ---- internals -----------------------------------------------------------------------

  #rate(id: string, sample: CgroupSample): RatedSample {
    if (!sample.cpu) return sample;
    const nanoCores = this.#rates.observe(id, {
      timestamp: sample.timestamp,
      usageNs: sample.cpu.usageNs,
    });
    return nanoCores === undefined ? sample : { ...sample, nanoCores };
  }

  /** A sample of `owner` read lately enough at a level at least `level`, or a fresh one. */
  async #reused(
    owner: string,
    pid: number,
    level: ReadLevel,
    read: () => Promise<RatedSample | undefined>,
  ): Promise<RatedSample | undefined> {
    const now = performance.now();
    const rank = LEVEL_RANK[level];
    const recent = this.#recent.get(owner);
    // Metrics are scraped alone and compared with the kernel's counters: always read fresh.
    if (
      level !== "metrics" &&
      recent &&
      recent.pid === pid &&
      recent.rank >= rank &&
      now - recent.at < (this.#options.sampleReuseMs ?? 1000)
    ) {
      return recent.sample;
    }
    const sample = await read();
    if (sample) this.#recent.set(owner, { at: now, pid, rank, sample });
    else this.#recent.delete(owner);
    return sample;
  }

  #loadMounts(): Promise<CgroupMounts> {
    if (!this.#mounts) {
      const load = readCgroupMounts();
      this.#mounts = load;
      load.catch(() => {
        if (this.#mounts === load) this.#mounts = undefined;
      });
    }
    return this.#mounts;
  }

  /** The cgroup directories of a container (or pause container) while it runs. */
  async #dirsOf(id: string, process: ProcessState): Promise<CgroupDirs | undefined> {
    if (!hasCgroup(process) || process.pid <= 0) return undefined;
    const cached = this.#dirs.get(id);
    if (cached && cached.pid === process.pid) return cached.dirs;
    if (cached) await this.#forgetCgroup(id);
    const mounts = await this.#loadMounts();
    const dirs = await cgroupDirsOfPid(mounts, process.pid, this.#options.procRoot);
    if (!dirs || !isContainerCgroup(dirs, id)) return undefined;
    this.#dirs.set(id, { pid: process.pid, dirs });
    return dirs;
  }

  async #sampleOwn(
    id: string,
    process: ProcessState,
    level: ReadLevel,
  ): Promise<CgroupSample | undefined> {
    const dirs = await this.#dirsOf(id, process);
    if (!dirs) return undefined;
    try {
      return await this.#reader.read(id, dirs, level);
    } catch (err) {
      // The cgroup went away (the container stopped before the store knew): no stats now,
      // and the directories are found again should it run again.
      this.#log.debug({ id, err: messageOf(err) }, "could not read a container's cgroup");
      await this.#forgetCgroup(id);
      return undefined;
    }
  }

  /** The pod cgroup (cgroup parent set) or, without one, the pause container's own. */
  async #samplePodCgroup(
    sandbox: SandboxRecord,
    hasPodCgroup: boolean,
    level: ReadLevel,
  ): Promise<RatedSample | undefined> {
    const pid = sandbox.process.pid;
    if (!hasPodCgroup) {
      return this.#reused(sandbox.id, pid, level, () =>
        this.#sampleOwn(sandbox.id, sandbox.process, level),
      );
    }
    const owner = podKey(sandbox.id);
    return this.#reused(owner, pid, level, async () => {
      const pauseDirs = await this.#dirsOf(sandbox.id, sandbox.process);
      if (!pauseDirs) return undefined;
      try {
        const sample = await this.#reader.read(owner, parentDirs(pauseDirs), level);
        return this.#rate(owner, sample);
      } catch (err) {
        this.#log.debug({ id: sandbox.id, err: messageOf(err) }, "could not read a pod's cgroup");
        await this.#files.release(owner);
        return undefined;
      }
    });
  }

  async #network(
    sandbox: SandboxRecord,
  ): Promise<{ timestamp: bigint; interfaces: InterfaceCounters[] } | undefined> {
    // The host's network: its counters are not the pod's (containerd reports none either).
    if (isHostNetwork(sandbox) || sandbox.process.pid <= 0) return undefined;
    const owner = netKey(sandbox.id);
    const pid = sandbox.process.pid;
    if (this.#netPids.get(sandbox.id) !== pid) {
      await this.#files.release(owner);
      this.#netPids.set(sandbox.id, pid);
    }
    const timestamp = nowNs();
    try {
      const interfaces = await readNetDev(this.#files, owner, pid, this.#options.procRoot);
      return { timestamp, interfaces };
    } catch (err) {
      this.#log.debug({ id: sandbox.id, err: messageOf(err) }, "could not read a pod's network");
      this.#netPids.delete(sandbox.id);
      await this.#files.release(owner);
      return undefined;
    }
  }

  /**
   * Background: cumulative CPU of running containers and pods whose rates have no recent base
   * (new ones, or none asked for a while). What the stats calls sampled lately is not read again.
   */
  async #sampleCpu(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const since = nowNs() - BigInt(this.#options.sampleMaxAgeMs ?? 300_000) * 1_000_000n;
      const stale = (id: string) => !this.#rates.sampledSince(id, since);
      const known = new Set<string>();
      const pods: Array<Promise<unknown>> = [];
      for (const sandbox of this.#store.sandboxes()) {
        if (sandbox.process.status !== "running") continue;
        known.add(sandbox.id);
        const containers = this.#store.containersOf(sandbox.id);
        const running = containers.filter((record) => hasCgroup(record.process));
        if (!stale(podKey(sandbox.id)) && !running.some((record) => stale(record.id))) continue;
        pods.push(this.samplePod(sandbox, containers, "cpu", { network: false }));
      }
      await Promise.all(pods);
      // Containers whose sandbox berth does not know (should not happen) still get sampled.
      const orphans: Array<Promise<unknown>> = [];
      for (const record of this.#store.containers()) {
        if (known.has(record.sandboxId) || !hasCgroup(record.process) || !stale(record.id))
          continue;
        orphans.push(this.sampleContainer(record, "cpu"));
      }
      await Promise.all(orphans);
      this.#rates.prune(nowNs());
    } catch (err) {
      this.#log.debug({ err: messageOf(err) }, "background CPU sampling failed");
    } finally {
      this.#sampling = false;
    }
  }

  async #forgetCgroup(id: string): Promise<void> {
    this.#dirs.delete(id);
    this.#recent.delete(id);
    this.#recent.delete(podKey(id));
    await Promise.all([this.#files.release(id), this.#files.release(podKey(id))]);
  }

  #onChange(change: StoreChange): void {
    const record = change.entry.record;
    const id = record.id;
    if (change.type === "delete") {
      this.#rates.forget(id);
      this.#rates.forget(podKey(id));
      this.#netPids.delete(id);
      void this.#forgetCgroup(id);
      void this.#files.release(netKey(id));
      return;
    }
    const cached = this.#dirs.get(id);
    if (cached && (!hasCgroup(record.process) || record.process.pid !== cached.pid)) {
      void this.#forgetCgroup(id);
    }
    if (change.entry.kind === "sandbox" && record.process.status !== "running") {
      this.#netPids.delete(id);
      void this.#files.release(netKey(id));
    }
  }
}
