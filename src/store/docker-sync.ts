import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import type { ContainerInspect, EngineEvent } from "../docker/types.ts";
import { messageOf } from "../errors.ts";
import { eventStreamResyncs } from "../metrics/instruments.ts";
import { jsonLines } from "../util/json-lines.ts";
import { KeyedMutex } from "../util/keyed-mutex.ts";
import { type BerthRecord, orphanSandboxOf, recordOf } from "./from-docker.ts";
import { instanceFilter } from "./labels.ts";
import type { SandboxCheckpoints, SandboxNetworkState } from "./sandbox-checkpoint.ts";
import type { StartFailures } from "./start-failures.ts";
import type { StateStore } from "./state-store.ts";

/** Engine actions after which a container's state is read again. */
const REFRESH_ACTIONS = new Set([
  "create",
  "start",
  "restart",
  "die",
  "kill",
  "oom",
  "stop",
  "pause",
  "unpause",
  "rename",
  "update",
]);

/**
 * Keeps the store equal to Docker: a full rebuild from labels at start and whenever the
 * event stream broke (so no transition is missed), and a re-inspection of one container
 * per event in between. berth's own handlers call `refresh` after each change they make,
 * so their callers read their own writes without waiting for the event.
 */
export class DockerSync {
  readonly #docker: DockerEngine;
  readonly #store: StateStore;
  readonly #checkpoints: SandboxCheckpoints;
  readonly #log: Logger;
  readonly #filter: { label: string[] };
  readonly #startFailures: StartFailures | undefined;
  /** Refreshes and forgets of one id run one after another. */
  readonly #perId = new KeyedMutex();
  #stopped = new AbortController();
  #following: Promise<void> | undefined;

  constructor(
    docker: DockerEngine,
    store: StateStore,
    checkpoints: SandboxCheckpoints,
    instance: string,
    log: Logger,
    startFailures?: StartFailures,
  ) {
    this.#filter = instanceFilter(instance);
    this.#startFailures = startFailures;
    this.#docker = docker;
    this.#store = store;
    this.#checkpoints = checkpoints;
    this.#log = log;
  }

  /** Lists and inspects every berth container; answers how many records it holds. */
  async rebuild(signal?: AbortSignal): Promise<number> {
    const summaries = await this.#docker.listContainers(this.#filter, signal);
    const entries: BerthRecord[] = [];
    await Promise.all(
      summaries.map(async (summary) => {
        const inspect = await this.#docker.findContainer(summary.Id, signal);
        const entry = inspect && (await this.#recordOf(inspect));
        if (entry) entries.push(entry);
      }),
    );
    const present = new Set(entries.map((entry) => entry.record.id));
    for (const id of await this.#checkpoints.ids()) {
      if (present.has(id)) continue;
      const orphan = await this.#orphan(id);
      if (orphan) entries.push(orphan);
    }
    this.#store.replaceAll(entries);
    this.#startFailures?.retainOnly(present);
    return entries.length;
  }

  /**
   * Reads one container again and updates the store (or drops it when it is gone).
   * Refreshes of one id run one after another, so an older answer never overwrites a newer.
   */
  refresh(id: string, signal?: AbortSignal): Promise<BerthRecord | undefined> {
    return this.#perId.run(id, async () => {
      const inspect = await this.#docker.findContainer(id, signal);
      if (!inspect) {
        const orphan = await this.#orphan(id);
        if (orphan) this.#store.upsert(orphan);
        else {
          this.#store.delete(id);
          this.#startFailures?.forget(id);
        }
        return orphan;
      }
      const entry = await this.#recordOf(inspect);
      if (entry) this.#store.upsert(entry);
      return entry;
    });
  }

  /**
   * The one way a sandbox's network state changes: persisted in its checkpoint first, then
   * the store's record replaced, which announces the change (READY follows the network).
   */
  saveNetwork(id: string, network: SandboxNetworkState): Promise<void> {
    return this.#perId.run(id, async () => {
      await this.#checkpoints.write(id, network);
      const record = this.#store.sandbox(id);
      if (record?.id === id)
        this.#store.upsert({ kind: "sandbox", record: { ...record, network } });
    });
  }

  /**
   * Drops a record and a sandbox's checkpoint once berth removed the container, after any
   * refresh of the same id still in flight (which could otherwise bring it back).
   */
  forget(id: string): Promise<void> {
    return this.#perId.run(id, async () => {
      await this.#checkpoints.remove(id);
      this.#store.delete(id);
    });
  }

  /**
   * berth's record of a container: a sandbox with its checkpointed network, a container with
   * a start failure the engine never saw.
   */
  async #recordOf(inspect: ContainerInspect): Promise<BerthRecord | undefined> {
    const entry = recordOf(inspect);
    if (entry?.kind === "sandbox") {
      entry.record.network = await this.#checkpoints.read(entry.record.id);
      return entry;
    }
    if (entry?.kind !== "container" || entry.record.process.status !== "created") return entry;
    const failure = this.#startFailures?.get(entry.record.id);
    if (failure !== undefined) entry.record.process.error = failure;
    return entry;
  }

  /** A sandbox known only from its checkpoint: its pause container is gone. */
  async #orphan(id: string): Promise<BerthRecord | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const checkpoint = await this.#checkpoints.read(id);
    const record = checkpoint && orphanSandboxOf(id, checkpoint);
    return record ? { kind: "sandbox", record } : undefined;
  }

  /** Starts following the engine's events in the background. */
  start(): void {
    this.#following ??= this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#following;
  }

  async #follow(): Promise<void> {
    const signal = this.#stopped.signal;
    let synced = false;
    /** The first rebuild completes start-up's; every later one is a resynchronisation. */
    let resync = false;
    while (!signal.aborted) {
      const since = Date.now() / 1000;
      try {
        const events = await this.#docker.events(
          { since, filters: { type: ["container"], ...this.#filter } },
          signal,
        );
        // Events are flowing from `since` on: a rebuild now cannot miss a transition.
        if (!synced) {
          await this.rebuild(signal);
          if (resync) eventStreamResyncs.inc();
          resync = true;
          synced = true;
        }
        for await (const event of jsonLines<EngineEvent>(events)) {
          this.#onEvent(event);
        }
        synced = false;
      } catch (err) {
        if (signal.aborted) return;
        synced = false;
        this.#log.warn({ err: messageOf(err) }, "engine event stream lost; resynchronising");
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  #onEvent(event: EngineEvent): void {
    const id = event.Actor?.ID ?? event.id;
    if (!id) return;
    if (REFRESH_ACTIONS.has(event.Action) || event.Action === "destroy") {
      this.refresh(id).catch((err: unknown) =>
        this.#log.warn({ id, err: messageOf(err) }, "could not refresh container after event"),
      );
    }
  }
}
