import { PodSandboxState } from "../gen/runtime/v1/api_pb.js";
import type { StateStore } from "../store/state-store.ts";
import type {
  StreamingContainer,
  StreamingLookup,
  StreamingSandbox,
} from "../streaming/streaming-lookup.ts";
import { isHostNetwork, sandboxState } from "./sandbox-convert.ts";

/**
 * Exec, Attach and PortForward find containers and sandboxes in berth's store: only berth's
 * own are served, and no engine round trip is needed to validate a request.
 */
export class StoreStreamingLookup implements StreamingLookup {
  readonly #store: StateStore;

  constructor(store: StateStore) {
    this.#store = store;
  }

  async container(id: string): Promise<StreamingContainer | undefined> {
    const record = this.#store.container(id);
    if (!record) return undefined;
    return {
      id: record.id,
      running: record.process.status === "running",
      tty: record.applied.tty,
      stdin: record.applied.openStdin,
    };
  }

  async sandbox(id: string): Promise<StreamingSandbox | undefined> {
    const record = this.#store.sandbox(id);
    if (!record) return undefined;
    const network = record.network;
    return {
      id: record.id,
      ready: sandboxState(record) === PodSandboxState.SANDBOX_READY,
      netnsPath: isHostNetwork(record)
        ? undefined
        : network?.netnsPath || `/proc/${record.process.pid}/ns/net`,
    };
  }
}
