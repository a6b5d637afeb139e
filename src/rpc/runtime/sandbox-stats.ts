import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { podSandboxStats, type StatsDeps } from "../../stats/stats-queries.ts";

/** NOT_FOUND for an unknown id, as ContainerStats. */
export function podSandboxStatsHandler(
  deps: StatsDeps,
): ServiceHandlers<typeof RuntimeService>["podSandboxStats"] {
  return async (request) => ({ stats: await podSandboxStats(deps, request.podSandboxId) });
}
