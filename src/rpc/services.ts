import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { DockerEngine } from "../docker/engine.ts";
import type { ContainerEvents } from "../events/container-events.ts";
import type { ImageLookup } from "../image/image-lookup.ts";
import type { ImagePuller } from "../image/image-puller.ts";
import type { ContainerLogs } from "../logs/container-logs.ts";
import type { NetnsPins } from "../network/netns-pin.ts";
import type { PodNetwork } from "../network/pod-network.ts";
import type { EngineFactsCache } from "../runtime/engine-facts.ts";
import type { HostLimits } from "../runtime/host-limits.ts";
import type { RuntimeSettings } from "../runtime/runtime-settings.ts";
import type { StatsCollector } from "../stats/stats-collector.ts";
import type { DockerSync } from "../store/docker-sync.ts";
import type { StartFailures } from "../store/start-failures.ts";
import type { StateStore } from "../store/state-store.ts";
import type { StreamingEngine } from "../streaming/streaming-engine.ts";
import type { StreamingLookup } from "../streaming/streaming-lookup.ts";
import type { StreamingServer } from "../streaming/streaming-server.ts";
import type { KeyedMutex } from "../util/keyed-mutex.ts";

/** What handlers share: built once at start by main.ts, passed to every handler factory. */
export interface Services {
  config: Config;
  /** This berth's identity on the engine (io.berth.instance), from its root directory. */
  instance: string;
  docker: DockerEngine;
  log: Logger;
  settings: RuntimeSettings;
  puller: ImagePuller;
  images: ImageLookup;
  engine: EngineFactsCache;
  store: StateStore;
  sync: DockerSync;
  startFailures: StartFailures;
  podNetwork: PodNetwork;
  netns: NetnsPins;
  /** Detected at start; undefined until the engine first answered. */
  hostLimits: () => Promise<HostLimits>;
  logs: ContainerLogs;
  events: ContainerEvents;
  stats: StatsCollector;
  streaming: { server: StreamingServer; lookup: StreamingLookup; docker: StreamingEngine };
  /**
   * Serialises Run/Stop/Remove of one sandbox, keyed by its pause container's name (see
   * withSandboxLock in rpc/runtime/sandbox-lifecycle.ts).
   */
  sandboxLocks: KeyedMutex;
  /**
   * Serialises Stop/Remove of one container, keyed by container id. Taken inside a sandbox
   * lock (a sandbox's teardown) but never the other way round, so the two cannot deadlock.
   */
  containerLocks: KeyedMutex;
  /** Serialises RemoveImage of one image, keyed by image id. */
  imageLocks: KeyedMutex;
}
