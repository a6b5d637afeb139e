import { notFound } from "../errors.ts";
import type { BerthRecord } from "./from-docker.ts";
import type { ContainerRecord, SandboxRecord } from "./records.ts";

/**
 * The label the kubelet's per-pod status sync selects by (ListPodSandbox and ListContainers
 * filtered by the pod's uid, once a minute per pod): indexed, so those lists need not scan
 * every record of the node.
 */
export const POD_UID_LABEL = "io.kubernetes.pod.uid";

export type StoreChange =
  | { type: "upsert"; entry: BerthRecord; previous: BerthRecord | undefined }
  | { type: "delete"; entry: BerthRecord };

/**
 * berth's in-memory view of its sandboxes and containers. It is a cache: Docker is the truth,
 * and the store is rebuilt from Docker's labels at start and kept current by berth's own
 * operations and the engine's events (store/docker-sync.ts). List and Status calls answer
 * from here without a round trip to the engine.
 */
export class StateStore {
  readonly #sandboxes = new Map<string, SandboxRecord>();
  readonly #containers = new Map<string, ContainerRecord>();
  readonly #bySandbox = new Map<string, Set<string>>();
  /** Ids of the sandboxes and containers whose CRI labels carry each pod uid. */
  readonly #byPodUid = new Map<string, Set<string>>();
  readonly #listeners = new Set<(change: StoreChange) => void>();

  upsert(entry: BerthRecord): void {
    const previous = this.#entry(entry.record.id);
    if (previous) this.#unindexPodUid(previous);
    this.#indexPodUid(entry);
    if (entry.kind === "sandbox") {
      this.#sandboxes.set(entry.record.id, entry.record);
    } else {
      const { id, sandboxId } = entry.record;
      this.#containers.set(id, entry.record);
      let ids = this.#bySandbox.get(sandboxId);
      if (!ids) {
        ids = new Set();
        this.#bySandbox.set(sandboxId, ids);
      }
      ids.add(id);
    }
    this.#emit({ type: "upsert", entry, previous });
  }

  delete(id: string): void {
    const entry = this.#entry(id);
    if (!entry) return;
    this.#unindexPodUid(entry);
    if (entry.kind === "sandbox") {
      this.#sandboxes.delete(id);
    } else {
      this.#containers.delete(id);
      const ids = this.#bySandbox.get(entry.record.sandboxId);
      ids?.delete(id);
      if (ids?.size === 0) this.#bySandbox.delete(entry.record.sandboxId);
    }
    this.#emit({ type: "delete", entry });
  }

  /** Replaces everything with a fresh view (a rebuild from Docker), emitting the differences. */
  replaceAll(entries: BerthRecord[]): void {
    const fresh = new Set(entries.map((entry) => entry.record.id));
    for (const id of [...this.#sandboxes.keys(), ...this.#containers.keys()]) {
      if (!fresh.has(id)) this.delete(id);
    }
    for (const entry of entries) this.upsert(entry);
  }

  sandbox(id: string): SandboxRecord | undefined {
    return this.#sandboxes.get(id) ?? byPrefix(this.#sandboxes, id);
  }

  container(id: string): ContainerRecord | undefined {
    return this.#containers.get(id) ?? byPrefix(this.#containers, id);
  }

  /** The sandbox, or NOT_FOUND naming the id (the kubelet tolerates only that code). */
  requireSandbox(id: string): SandboxRecord {
    const sandbox = this.sandbox(id);
    if (!sandbox) throw notFound(`pod sandbox "${id}" not found`);
    return sandbox;
  }

  requireContainer(id: string): ContainerRecord {
    const container = this.container(id);
    if (!container) throw notFound(`container "${id}" not found`);
    return container;
  }

  sandboxes(): IterableIterator<SandboxRecord> {
    return this.#sandboxes.values();
  }

  containers(): IterableIterator<ContainerRecord> {
    return this.#containers.values();
  }

  containersOf(sandboxId: string): ContainerRecord[] {
    const ids = this.#bySandbox.get(sandboxId);
    if (!ids) return [];
    const result: ContainerRecord[] = [];
    for (const id of ids) {
      const container = this.#containers.get(id);
      if (container) result.push(container);
    }
    return result;
  }

  /**
   * The sandboxes and the containers labelled with a pod uid (POD_UID_LABEL), in the order
   * they were first stored; a list filtered by that label looks at these only.
   */
  withPodUid(uid: string): { sandboxes: SandboxRecord[]; containers: ContainerRecord[] } {
    const found = { sandboxes: [] as SandboxRecord[], containers: [] as ContainerRecord[] };
    for (const id of this.#byPodUid.get(uid) ?? []) {
      const sandbox = this.#sandboxes.get(id);
      if (sandbox) found.sandboxes.push(sandbox);
      const container = this.#containers.get(id);
      if (container) found.containers.push(container);
    }
    return found;
  }

  get size(): { sandboxes: number; containers: number } {
    return { sandboxes: this.#sandboxes.size, containers: this.#containers.size };
  }

  /** Every change, synchronously, in order; answers the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #entry(id: string): BerthRecord | undefined {
    const sandbox = this.#sandboxes.get(id);
    if (sandbox) return { kind: "sandbox", record: sandbox };
    const container = this.#containers.get(id);
    if (container) return { kind: "container", record: container };
    return undefined;
  }

  #indexPodUid(entry: BerthRecord): void {
    const uid = entry.record.config.labels[POD_UID_LABEL];
    if (uid === undefined) return;
    let ids = this.#byPodUid.get(uid);
    if (!ids) {
      ids = new Set();
      this.#byPodUid.set(uid, ids);
    }
    ids.add(entry.record.id);
  }

  #unindexPodUid(entry: BerthRecord): void {
    const uid = entry.record.config.labels[POD_UID_LABEL];
    if (uid === undefined) return;
    const ids = this.#byPodUid.get(uid);
    ids?.delete(entry.record.id);
    if (ids?.size === 0) this.#byPodUid.delete(uid);
  }

  #emit(change: StoreChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/**
 * crictl and people pass shortened ids, as `docker` allows. Only a unique prefix of at least
 * a few characters matches; the kubelet always uses full ids, which hit the map directly.
 */
function byPrefix<T>(map: Map<string, T>, prefix: string): T | undefined {
  if (prefix.length < 4 || prefix.length >= 64) return undefined;
  let found: T | undefined;
  for (const [id, value] of map) {
    if (!id.startsWith(prefix)) continue;
    if (found !== undefined) return undefined;
    found = value;
  }
  return found;
}
