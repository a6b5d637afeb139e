import { failedPrecondition, invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * The kubelet rotates a log by renaming the file and then asking for a new one here
 * (cri-dockerd refuses this call, which breaks the kubelet's rotation).
 */
export function containerReopenLog(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["reopenContainerLog"] {
  return async (request) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    const record = s.store.requireContainer(request.containerId);
    if (record.process.status !== "running") {
      throw failedPrecondition(`container ${record.id} is not running: no log to reopen`);
    }
    await s.logs.reopen(record.id);
    return {};
  };
}
