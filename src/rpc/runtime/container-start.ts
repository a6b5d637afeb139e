import { existsSync } from "node:fs";
import {
  failedPrecondition,
  invalidArgument,
  isErrorKind,
  messageOf,
  notFound,
  unavailable,
} from "../../errors.ts";
import { ContainerState, type RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { containerState } from "../../runtime/container-convert.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * Starts a created container. The log writer follows the container before it starts, so
 * output from the first byte is captured. A failed start leaves the container EXITED with
 * reason ContainerCannotRun (the engine records its error), never CREATED forever. Only a
 * created container starts (a running one is already started); an exited one is refused, as
 * containerd refuses it.
 */
export function containerStart(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["startContainer"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    const known = s.store.requireContainer(request.containerId);
    // Docker would start an exited container again (a restart the CRI does not have: the
    // kubelet creates a new container instead), so look at its state now, not at the store's
    // last view of it, which may predate its exit.
    const fresh = await s.sync.refresh(known.id, signal);
    const record = fresh?.kind === "container" ? fresh.record : undefined;
    if (!record) throw notFound(`container "${request.containerId}" not found`);
    const state = containerState(record);
    // Started already (a retried call): nothing to do. Asking the engine again could restart
    // it, should it exit meanwhile.
    if (state === ContainerState.CONTAINER_RUNNING) return {};
    if (state !== ContainerState.CONTAINER_CREATED) {
      throw failedPrecondition(
        `container ${record.id} is ${ContainerState[state]}: only a created container can be started`,
      );
    }
    const sandbox = s.store.sandbox(record.sandboxId);
    if (sandbox?.process.status !== "running") {
      throw failedPrecondition(
        `container ${record.id}: its pod sandbox ${record.sandboxId} is not running`,
      );
    }
    // The log file opens first: a bad path fails the start before anything runs, and the
    // container is then reported EXITED with the reason (the engine never saw a start).
    let started: () => void;
    try {
      started = await s.logs.start(record);
    } catch (err) {
      await s.startFailures.record(
        record.id,
        `cannot open the log file ${record.logPath}: ${messageOf(err)}`,
      );
      await s.sync.refresh(record.id).catch(() => {});
      throw err;
    }
    try {
      await s.docker.startContainer(record.id, signal);
    } catch (err) {
      // The engine keeps the start error: ContainerStatus reports it as ContainerCannotRun.
      await s.sync.refresh(record.id).catch(() => {});
      // The pause container died meanwhile (the engine restarted, say): the engine then fails
      // on its namespaces, and the cause the kubelet can act on is the sandbox.
      if (await sandboxStopped(s, record.sandboxId, err)) {
        throw failedPrecondition(
          `container ${record.id}: its pod sandbox ${record.sandboxId} stopped while it started (${messageOf(err)})`,
          err,
        );
      }
      throw err;
    }
    started();
    await s.sync.refresh(record.id, signal);
    return {};
  };
}

/**
 * Whether the sandbox's pause container has stopped: the engine says so, or its process is
 * gone from /proc (the engine learns of the exit from containerd a moment later). An engine
 * that cannot be asked is itself the answer: UNAVAILABLE.
 */
async function sandboxStopped(s: Services, sandboxId: string, cause: unknown): Promise<boolean> {
  let entry: Awaited<ReturnType<Services["sync"]["refresh"]>>;
  try {
    entry = await s.sync.refresh(sandboxId);
  } catch (err) {
    if (isErrorKind(err, "Unavailable")) {
      throw unavailable(`${messageOf(cause)} (then the engine stopped answering)`, cause);
    }
    return false;
  }
  if (entry?.kind !== "sandbox" || entry.record.process.status !== "running") return true;
  return entry.record.process.pid > 0 && !existsSync(`/proc/${entry.record.process.pid}`);
}
