import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import type { ContainerInspect, EngineEvent } from "../docker/types.ts";
import { messageOf } from "../errors.ts";
import { eventStreamResyncs } from "../metrics/instruments.ts";
import { jsonLines } from "../util/json-lines.ts";
import { KeyedMutex } from "../util/keyed-mutex.ts";
import {
  CRI_DOCKERD_SANDBOX_ID_LABEL,
  CRI_DOCKERD_TYPE_LABEL,
  criDockerdContainerOf,
  criDockerdKindOf,
  criDockerdSandboxOf,
} from "./cri-dockerd-records.ts";
import { type BerthRecord, orphanSandboxOf, recordOf } from "./from-docker.ts";
import { instanceFilter, LABEL_INSTANCE, LABEL_MANAGED } from "./labels.ts";
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
  readonly #instance: string;
  /**
   * Sandboxes taken over from cri-dockerd (their berth checkpoint says so): they and their
   * containers carry cri-dockerd's labels, not berth's, and are berth's all the same.
   */
  readonly #adopted = new Set<string>();
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
    this.#instance = instance;
    this.#startFailures = startFailures;
    this.#docker = docker;
    this.#store = store;
    this.#checkpoints = checkpoints;
    this.#log = log;
  }

  /** Lists and inspects every berth container; answers how many records it holds. */
  async rebuild(signal?: AbortSignal): Promise<number> {
    await this.#loadAdopted();
    const summaries = await this.#docker.listContainers(this.#filter, signal);
    if (this.#adopted.size > 0) {
      const theirs = await this.#docker.listContainers({ label: [CRI_DOCKERD_TYPE_LABEL] }, signal);
      summaries.push(...theirs.filter((summary) => this.#isAdopted(summary.Id, summary.Labels)));
    }
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
      this.#adopted.delete(id);
      this.#store.delete(id);
    });
  }

  /** Whether berth took this sandbox over from cri-dockerd. */
  isAdopted(sandboxId: string): boolean {
    return this.#adopted.has(sandboxId);
  }

  /** The sandboxes whose berth checkpoint says they were taken over from cri-dockerd. */
  async #loadAdopted(): Promise<void> {
    for (const id of await this.#checkpoints.ids()) {
      if ((await this.#checkpoints.read(id))?.adoptedFrom) this.#adopted.add(id);
    }
  }

  /** A cri-dockerd container berth adopted: an adopted sandbox, or a container in one. */
  #isAdopted(id: string, labels: Record<string, string> | null | undefined): boolean {
    const kind = criDockerdKindOf(labels);
    if (kind === "podsandbox") return this.#adopted.has(id);
    return kind === "container" && this.#adopted.has(labels?.[CRI_DOCKERD_SANDBOX_ID_LABEL] ?? "");
  }

  /**
   * berth's record of a container: a sandbox with its checkpointed network, a container with
   * a start failure the engine never saw.
   */
  async #recordOf(inspect: ContainerInspect): Promise<BerthRecord | undefined> {
    // Another berth's containers share the engine: an event stream opened without the
    // instance filter (adopted pods exist) may bring their ids here.
    const own = inspect.Config.Labels?.[LABEL_INSTANCE] === this.#instance;
    const entry = (own ? recordOf(inspect) : undefined) ?? (await this.#adoptedRecordOf(inspect));
    if (entry?.kind === "sandbox") {
      entry.record.network = await this.#checkpoints.read(entry.record.id);
      return entry;
    }
    if (entry?.kind !== "container" || entry.record.process.status !== "created") return entry;
    const failure = this.#startFailures?.get(entry.record.id);
    if (failure !== undefined) entry.record.process.error = failure;
    return entry;
  }

  async #adoptedRecordOf(inspect: ContainerInspect): Promise<BerthRecord | undefined> {
    const labels = inspect.Config.Labels;
    if (!this.#isAdopted(inspect.Id, labels)) return undefined;
    if (criDockerdKindOf(labels) === "container") {
      const record = criDockerdContainerOf(inspect);
      return record && { kind: "container", record };
    }
    // The port mappings as adoption copied them from cri-dockerd's checkpoint.
    const network = await this.#checkpoints.read(inspect.Id);
    const record = criDockerdSandboxOf(inspect, network?.portMappings ?? []);
    return record && { kind: "sandbox", record };
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
        if (!synced) await this.#loadAdopted();
        // Adopted containers carry cri-dockerd's labels: then every container's events come,
        // and #onEvent picks berth's.
        const filters =
          this.#adopted.size > 0
            ? { type: ["container"] }
            : { type: ["container"], ...this.#filter };
        const events = await this.#docker.events({ since, filters }, signal);
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

  /** An event of one of berth's containers, its own or adopted ones (or one it holds). */
  #concerns(id: string, attributes: Record<string, string> | undefined): boolean {
    if (attributes?.[LABEL_MANAGED] === "true" && attributes[LABEL_INSTANCE] === this.#instance)
      return true;
    return (
      this.#isAdopted(id, attributes) ||
      this.#store.sandbox(id) !== undefined ||
      this.#store.container(id) !== undefined
    );
  }

  #onEvent(event: EngineEvent): void {
    const id = event.Actor?.ID ?? event.id;
    if (!id) return;
    // Always asked, not only while adopted pods exist: the stream keeps the filter it was
    // opened with after the last adopted pod is removed.
    if (!this.#concerns(id, event.Actor?.Attributes)) return;
    if (REFRESH_ACTIONS.has(event.Action) || event.Action === "destroy") {
      this.refresh(id).catch((err: unknown) =>
        this.#log.warn({ id, err: messageOf(err) }, "could not refresh container after event"),
      );
    }
  }
}
