import type { ContainerFilter, RuntimeService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { matchesContainerFilter, toCriContainer } from "./container-convert.ts";

/** Streamed in pages, so no answer outgrows the message size limit. */
const STREAM_PAGE = 500;

async function listContainers(
  s: Services,
  filter: ContainerFilter | undefined,
  signal: AbortSignal,
) {
  const containers = [];
  for (const record of s.store.containers()) {
    if (!matchesContainerFilter(record, filter)) continue;
    containers.push(toCriContainer(record, await s.images.namesById(record.imageId, signal)));
  }
  return containers;
}

/** Answered from the store: the kubelet relists every second. */
export function containerList(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["listContainers"] {
  return async (request, { signal }) => ({
    containers: await listContainers(s, request.filter, signal),
  });
}

export function containerStream(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["streamContainers"] {
  return async (request, send, { signal }) => {
    const containers = await listContainers(s, request.filter, signal);
    for (let start = 0; start < containers.length; start += STREAM_PAGE) {
      await send({ containers: containers.slice(start, start + STREAM_PAGE) });
    }
  };
}
