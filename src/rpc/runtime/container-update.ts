import { failedPrecondition, invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { buildUpdateResources } from "../../runtime/resources-spec.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/** Memory and swap go together: Docker refuses a memory limit above the current swap total. */
export function containerUpdate(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["updateContainerResources"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    const record = s.store.requireContainer(request.containerId);
    if (!request.linux) throw invalidArgument("linux resources are required");
    if (record.process.status === "exited" || record.process.status === "dead") {
      throw failedPrecondition(`container ${record.id} has exited`);
    }
    const { body, warnings } = buildUpdateResources(request.linux, await s.hostLimits());
    for (const warning of warnings) s.log.warn({ container: record.id }, warning);
    await s.docker.updateContainer(record.id, body, signal);
    await s.sync.refresh(record.id, signal);
    return {};
  };
}
