import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { removeContainer, withContainerLock } from "./container-lifecycle.ts";

/** Removes (killing it first when it runs); an unknown container is already removed. */
export function containerRemove(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["removeContainer"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    await withContainerLock(s, request.containerId, (container) =>
      removeContainer(s, container, signal),
    );
    return {};
  };
}
