import { ignoreNotFound } from "../../docker/errors.ts";
import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/** Removes (killing it first when it runs); an unknown container is already removed. */
export function containerRemove(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["removeContainer"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    const record = s.store.container(request.containerId);
    if (!record) return {};
    await ignoreNotFound(s.docker.removeContainer(record.id, signal));
    await s.logs.stop(record.id);
    s.startFailures.forget(record.id);
    await s.sync.forget(record.id);
    return {};
  };
}
