import type { PodSandboxState, RuntimeService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { matchesSandboxFilter, sandboxState, toPodSandbox } from "./sandbox-convert.ts";

export function sandboxList(s: Services): ServiceHandlers<typeof RuntimeService>["listPodSandbox"] {
  return async (request) => {
    const items = [];
    for (const sandbox of s.store.sandboxes()) {
      const state: PodSandboxState = sandboxState(sandbox, await s.checkpoints.read(sandbox.id));
      if (matchesSandboxFilter(sandbox, state, request.filter)) {
        items.push(toPodSandbox(sandbox, state));
      }
    }
    return { items };
  };
}
