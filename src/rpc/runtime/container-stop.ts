import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { stopContainer, withContainerLock } from "./container-lifecycle.ts";

/**
 * Sends the container's stop signal (set at creation: the config's, else the image's, else
 * SIGTERM), then SIGKILL once `timeout` seconds passed. Stopping an unknown or stopped
 * container succeeds: the kubelet retries stops.
 */
export function containerStop(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["stopContainer"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    await withContainerLock(s, request.containerId, (container) =>
      stopContainer(s, container, Number(request.timeout), signal),
    );
    return {};
  };
}
