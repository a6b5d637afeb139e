import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { parseConfig } from "../../src/config.ts";
import { ContainerEvents } from "../../src/events/container-events.ts";
import { ImageLookup } from "../../src/image/image-lookup.ts";
import { ImagePuller } from "../../src/image/image-puller.ts";
import type { ContainerLogs } from "../../src/logs/container-logs.ts";
import { NetnsPins } from "../../src/network/netns-pin.ts";
import type { PodAttachment, PodNetwork } from "../../src/network/pod-network.ts";
import type { Services } from "../../src/rpc/services.ts";
import { EngineFactsCache } from "../../src/runtime/engine-facts.ts";
import type { HostLimits } from "../../src/runtime/host-limits.ts";
import { RuntimeSettings } from "../../src/runtime/runtime-settings.ts";
import { StoreStreamingLookup } from "../../src/runtime/store-streaming-lookup.ts";
import type { CallContext } from "../../src/server/call-context.ts";
import { StatsCollector } from "../../src/stats/stats-collector.ts";
import { DockerSync } from "../../src/store/docker-sync.ts";
import { instanceOf } from "../../src/store/labels.ts";
import type { ContainerRecord } from "../../src/store/records.ts";
import type { SandboxNetworkState } from "../../src/store/sandbox-checkpoint.ts";
import { SandboxCheckpoints } from "../../src/store/sandbox-checkpoint.ts";
import { StartFailures } from "../../src/store/start-failures.ts";
import { StateStore } from "../../src/store/state-store.ts";
import type { StreamingServer } from "../../src/streaming/streaming-server.ts";
import { KeyedMutex } from "../../src/util/keyed-mutex.ts";
import { FakeEngine } from "./fake-engine.ts";

/**
 * A real `Services`, assembled as src/main.ts does (real store, DockerSync, checkpoints in a
 * temporary root, image lookup and puller, translation), with fakes only where the host is
 * needed: the engine, CNI, netns bind mounts, log files and the streaming server.
 */

export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

/** Records attach/detach; `failNextAttach` makes the next attach throw. */
export class FakePodNetwork implements PodNetwork {
  readonly attached: PodAttachment[] = [];
  readonly detached: Array<{ sandboxId: string; state: SandboxNetworkState; netnsPath: string }> =
    [];
  #attachFailure: Error | undefined;
  #nextIp = 2;
  ready = true;

  failNextAttach(error: Error): void {
    this.#attachFailure = error;
  }

  invalidate(): void {}

  async status() {
    return this.ready
      ? ({ ready: true, network: "fake-net" } as const)
      : ({ ready: false, reason: "no CNI config in the fake" } as const);
  }

  async attach(pod: PodAttachment): Promise<{ network: string; ifName: string; ips: string[] }> {
    this.attached.push(pod);
    const failure = this.#attachFailure;
    this.#attachFailure = undefined;
    if (failure) throw failure;
    return { network: "fake-net", ifName: "eth0", ips: [`10.88.0.${this.#nextIp++}`] };
  }

  async verify(): Promise<string | undefined> {
    return undefined;
  }

  /** Failures the next detach calls answer, one call each. */
  readonly detachFailures: string[][] = [];

  async detach(sandboxId: string, state: SandboxNetworkState, netnsPath: string) {
    this.detached.push({ sandboxId, state, netnsPath });
    return this.detachFailures.shift() ?? [];
  }

  detachedIds(): string[] {
    return this.detached.map((entry) => entry.sandboxId);
  }
}

/** Namespace pins without mount(8): a pinned path is remembered, not bind-mounted. */
export class FakeNetnsPins extends NetnsPins {
  readonly pinned = new Set<string>();
  readonly unpinned: string[] = [];

  override async pin(sandboxId: string, _pid: number): Promise<string> {
    const path = this.pathOf(sandboxId);
    this.pinned.add(path);
    return path;
  }

  override async isPinned(path: string): Promise<boolean> {
    return this.pinned.has(path);
  }

  override async unpin(sandboxId: string): Promise<void> {
    this.unpinned.push(sandboxId);
    this.pinned.delete(this.pathOf(sandboxId));
  }
}

/** CRI log files that are only recorded; `failNextStart` makes opening the next one fail. */
export class FakeLogs implements ContainerLogs {
  readonly dockerLogConfig = { Type: "json-file" };
  readonly started: string[] = [];
  readonly stopped: string[] = [];
  readonly nudged: string[] = [];
  #startFailure: Error | undefined;

  failNextStart(error: Error): void {
    this.#startFailure = error;
  }

  async start(record: ContainerRecord): Promise<() => void> {
    const failure = this.#startFailure;
    this.#startFailure = undefined;
    if (failure) throw failure;
    this.started.push(record.id);
    return () => this.nudged.push(record.id);
  }

  async drained(): Promise<void> {}

  async reopen(): Promise<void> {}

  async stop(id: string): Promise<void> {
    this.stopped.push(id);
  }
}

export const HOST_LIMITS: HostLimits = {
  apiVersion: "1.41",
  recursiveReadOnly: false,
  capabilityBoundingSet: [],
  fullCapabilities: true,
  minOomScoreAdj: -1000,
  cgroupDriver: "cgroupfs",
  cgroupVersion: 1,
  hostDevices: [],
  appArmorEnabled: false,
  loadedAppArmorProfiles: new Set(),
  seccompEnabled: false,
};

export interface HandlerHarness {
  services: Services;
  engine: FakeEngine;
  network: FakePodNetwork;
  netns: FakeNetnsPins;
  logs: FakeLogs;
  checkpoints: SandboxCheckpoints;
  rootDir: string;
  /** A call context with a fresh, never-aborted signal. */
  ctx: CallContext;
  /** Stops following events and removes the temporary root (when the harness made it). */
  close(): Promise<void>;
  /**
   * berth restarted over the same root directory: a new harness (new store, caches and
   * fakes) on `engine` (default: a fresh, empty one). The old harness must not be used again;
   * the new one owns the root's removal.
   */
  restart(engine?: FakeEngine): Promise<HandlerHarness>;
}

export interface HarnessOptions {
  /** Put the pause image on the fake engine (default true). */
  pauseImage?: boolean;
  engine?: FakeEngine;
  /** Reuse a root directory (a berth restart over the same state). */
  rootDir?: string;
}

export async function handlerServices(options: HarnessOptions = {}): Promise<HandlerHarness> {
  const owned = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), "berth-handlers-")));
  const config = parseConfig(
    [
      "--root-directory",
      rootDir,
      "--cni-conf-dir",
      join(rootDir, "cni"),
      "--cni-bin-dir",
      join(rootDir, "cni-bin"),
      "--pod-infra-container-image",
      PAUSE_IMAGE,
      "--log-level",
      "silent",
      "--no-default-network",
    ],
    {},
  );
  const log = pino({ level: "silent" });
  const engine = options.engine ?? new FakeEngine();
  if (options.pauseImage ?? true) engine.addImage([PAUSE_IMAGE]);
  const facts = new EngineFactsCache(engine);
  const settings = await RuntimeSettings.load(rootDir, undefined);
  const checkpoints = new SandboxCheckpoints(rootDir, log);
  const store = new StateStore();
  const instance = instanceOf(rootDir);
  const startFailures = new StartFailures(rootDir);
  const sync = new DockerSync(engine, store, checkpoints, instance, log, startFailures);
  const network = new FakePodNetwork();
  const netns = new FakeNetnsPins(rootDir);
  const logs = new FakeLogs();
  const images = new ImageLookup(engine, [PAUSE_IMAGE]);
  const services: Services = {
    config,
    instance,
    docker: engine,
    log,
    settings,
    puller: new ImagePuller(engine, log, config.imagePullProgressDeadlineMs),
    images,
    engine: facts,
    store,
    sync,
    startFailures,
    podNetwork: network,
    netns,
    logs,
    events: new ContainerEvents(store, images, log),
    stats: new StatsCollector({
      store,
      log,
      upperDirOf: async () => undefined,
      dataRoot: async () => engine.infoAnswer.DockerRootDir,
    }),
    streaming: {
      server: notFakedStreamingServer(),
      lookup: new StoreStreamingLookup(store),
      docker: engine,
    },
    hostLimits: async () => HOST_LIMITS,
    sandboxLocks: new KeyedMutex(),
    containerLocks: new KeyedMutex(),
    imageLocks: new KeyedMutex(),
  };
  return {
    services,
    engine,
    network,
    netns,
    logs,
    checkpoints,
    rootDir,
    ctx: { signal: new AbortController().signal, deadline: undefined, log },
    close: async () => {
      await sync.stop();
      if (owned) await rm(rootDir, { recursive: true, force: true });
    },
    restart: async (next) => {
      await sync.stop();
      const harness = await handlerServices({ ...options, rootDir, engine: next });
      return {
        ...harness,
        close: async () => {
          await harness.close();
          if (owned) await rm(rootDir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** The streaming server binds a port: handler tests of exec/attach must bring their own. */
function notFakedStreamingServer(): StreamingServer {
  return new Proxy({} as StreamingServer, {
    get(_target, property) {
      throw new Error(`handler-services: streaming server.${String(property)} is not faked`);
    },
  });
}
