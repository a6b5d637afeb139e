import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { BerthError, messageOf } from "../errors.ts";
import {
  type ContainerEventResponseSchema,
  ContainerEventType,
  PodSandboxState,
} from "../gen/runtime/v1/api_pb.js";
import type { ImageLookup } from "../image/image-lookup.ts";
import { toCriContainerStatus } from "../runtime/container-convert.ts";
import { sandboxState, toPodSandboxStatus } from "../runtime/sandbox-convert.ts";
import type { BerthRecord } from "../store/from-docker.ts";
import type { ContainerRecord, SandboxRecord } from "../store/records.ts";
import type { StateStore, StoreChange } from "../store/state-store.ts";
import { nowNanos } from "../util/time.ts";
import { eventsBetween, eventsForTransition, type Phase, phaseOf } from "./event-kinds.ts";

export type ContainerEvent = MessageInitShape<typeof ContainerEventResponseSchema>;

/** Events a subscriber may fall behind by before it is cut off (it can reconnect and relist). */
const MAX_BACKLOG = 1000;

interface Subscriber {
  queue: ContainerEvent[];
  wake: (() => void) | undefined;
  failure: BerthError | undefined;
}

/**
 * CRI container events (GetContainerEvents) from the store's changes, as the kubelet's evented
 * PLEG consumes them: created / started / stopped / deleted for containers and for sandboxes
 * (whose container_id is the sandbox id), each with the pod's status and the statuses of its
 * containers, in the order the changes happened. Every subscriber gets every event; one that
 * falls too far behind is cut off rather than slowing berth or the others.
 */
export class ContainerEvents {
  readonly #store: StateStore;
  readonly #images: ImageLookup;
  readonly #log: Logger;
  readonly #subscribers = new Set<Subscriber>();
  /** Payloads are built asynchronously; this chain keeps them in change order. */
  #chain: Promise<void> = Promise.resolve();
  /** A sandbox's phase includes its network: STARTED only once the pod is READY. */
  readonly #sandboxPhases = new Map<string, Phase>();

  constructor(store: StateStore, images: ImageLookup, log: Logger) {
    this.#store = store;
    this.#images = images;
    this.#log = log;
    store.subscribe((change) => this.#onChange(change));
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Sends events to `send` until the signal aborts; throws when the subscriber fell behind. */
  async stream(send: (event: ContainerEvent) => Promise<void>, signal: AbortSignal): Promise<void> {
    const subscriber: Subscriber = { queue: [], wake: undefined, failure: undefined };
    this.#subscribers.add(subscriber);
    const onAbort = () => subscriber.wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (subscriber.failure) throw subscriber.failure;
        const event = subscriber.queue.shift();
        if (event) {
          await send(event);
          continue;
        }
        await new Promise<void>((resolve) => {
          subscriber.wake = resolve;
        });
        subscriber.wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#subscribers.delete(subscriber);
    }
  }

  #onChange(change: StoreChange): void {
    const entry = change.entry;
    const deleted = change.type === "delete";
    if (this.#subscribers.size === 0) {
      if (entry.kind === "sandbox" && deleted) this.#sandboxPhases.delete(entry.record.id);
      return;
    }
    const previous = change.type === "upsert" ? change.previous : undefined;
    const at = nowNanos();
    this.#chain = this.#chain
      .then(async () => {
        const types = await this.#eventTypes(entry, previous, deleted);
        if (types.length === 0) return;
        const base = await this.#payload(entry);
        for (const type of types)
          this.#publish({ ...base, containerEventType: type, createdAt: at });
      })
      .catch((err: unknown) => this.#log.warn({ err: messageOf(err) }, "could not build an event"));
  }

  async #eventTypes(
    entry: BerthRecord,
    previous: BerthRecord | undefined,
    deleted: boolean,
  ): Promise<ContainerEventType[]> {
    if (deleted) {
      this.#sandboxPhases.delete(entry.record.id);
      return [ContainerEventType.CONTAINER_DELETED_EVENT];
    }
    if (entry.kind === "container") {
      return eventsForTransition(previous?.record.process, entry.record.process);
    }
    const sandbox = entry.record;
    const before = this.#sandboxPhases.get(sandbox.id);
    let phase = phaseOf(sandbox.process);
    if (phase === "running" && sandboxState(sandbox) !== PodSandboxState.SANDBOX_READY) {
      // Not READY yet (network being attached), or no longer (network released by a stop).
      phase = before === "running" || before === "exited" ? "exited" : "created";
    }
    this.#sandboxPhases.set(sandbox.id, phase);
    return eventsBetween(
      before,
      phase,
      previous !== undefined &&
        previous.record.process.startedAt > 0n &&
        previous.record.process.startedAt !== sandbox.process.startedAt,
      sandbox.process.startedAt > 0n,
    );
  }

  async #payload(entry: BerthRecord) {
    const sandbox: SandboxRecord | undefined =
      entry.kind === "sandbox" ? entry.record : this.#store.sandbox(entry.record.sandboxId);
    const containers: ContainerRecord[] = sandbox ? this.#store.containersOf(sandbox.id) : [];
    // A deleted container is no longer in the store: its last state still belongs in the event.
    if (entry.kind === "container" && !containers.some((c) => c.id === entry.record.id)) {
      containers.push(entry.record);
    }
    const statuses = await Promise.all(
      containers.map(async (container) =>
        toCriContainerStatus(container, await this.#images.namesById(container.imageId), undefined),
      ),
    );
    let podSandboxStatus: ReturnType<typeof toPodSandboxStatus> | undefined;
    if (sandbox) {
      podSandboxStatus = toPodSandboxStatus(sandbox, sandboxState(sandbox));
    }
    return { containerId: entry.record.id, podSandboxStatus, containersStatuses: statuses };
  }

  #publish(event: ContainerEvent): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.failure) continue;
      if (subscriber.queue.length >= MAX_BACKLOG) {
        subscriber.queue.length = 0;
        subscriber.failure = new BerthError(
          "ResourceExhausted",
          `event subscriber fell ${MAX_BACKLOG} events behind and was cut off; reconnect and relist`,
        );
      } else {
        subscriber.queue.push(event);
      }
      subscriber.wake?.();
    }
  }
}
