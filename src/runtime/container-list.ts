import type { RuntimeService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { matchesContainerFilter, toCriContainer } from "./container-convert.ts";

/** Answered from the store: the kubelet relists every second. */
export function containerList(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["listContainers"] {
  return async (request, { signal }) => {
    const containers = [];
    for (const record of s.store.containers()) {
      if (!matchesContainerFilter(record, request.filter)) continue;
      containers.push(toCriContainer(record, await s.images.namesById(record.imageId, signal)));
    }
    return { containers };
  };
}
