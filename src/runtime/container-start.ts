import { failedPrecondition, invalidArgument } from "../errors.ts";
import type { RuntimeService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * Starts a created container. The log writer follows the container before it starts, so
 * output from the first byte is captured. A failed start leaves the container EXITED with
 * reason ContainerCannotRun (the engine records its error), never CREATED forever.
 */
export function containerStart(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["startContainer"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    const record = s.store.requireContainer(request.containerId);
    const sandbox = s.store.sandbox(record.sandboxId);
    if (!sandbox || sandbox.process.status !== "running") {
      throw failedPrecondition(
        `container ${record.id}: its pod sandbox ${record.sandboxId} is not running`,
      );
    }
    // The log file opens first: a bad path fails the start before anything runs.
    const started = await s.logs.start(record);
    try {
      await s.docker.startContainer(record.id, signal);
    } catch (err) {
      // The engine keeps the start error: ContainerStatus reports it as ContainerCannotRun.
      await s.sync.refresh(record.id).catch(() => {});
      throw err;
    }
    started();
    await s.sync.refresh(record.id, signal);
    return {};
  };
}
