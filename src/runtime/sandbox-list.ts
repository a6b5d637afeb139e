import type {
  PodSandboxFilter,
  PodSandboxState,
  RuntimeService,
} from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { matchesSandboxFilter, sandboxState, toPodSandbox } from "./sandbox-convert.ts";

/** Streamed in pages, so no answer outgrows the message size limit. */
const STREAM_PAGE = 500;

async function listSandboxes(s: Services, filter: PodSandboxFilter | undefined) {
  const items = [];
  for (const sandbox of s.store.sandboxes()) {
    const state: PodSandboxState = sandboxState(sandbox, await s.checkpoints.read(sandbox.id));
    if (matchesSandboxFilter(sandbox, state, filter)) items.push(toPodSandbox(sandbox, state));
  }
  return items;
}

/** Answered from the store: the kubelet relists every second. */
export function sandboxList(s: Services): ServiceHandlers<typeof RuntimeService>["listPodSandbox"] {
  return async (request) => ({ items: await listSandboxes(s, request.filter) });
}

export function sandboxStream(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["streamPodSandboxes"] {
  return async (request, send) => {
    const items = await listSandboxes(s, request.filter);
    for (let start = 0; start < items.length; start += STREAM_PAGE) {
      await send({ podSandboxes: items.slice(start, start + STREAM_PAGE) });
    }
  };
}
