import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { containerStats, type StatsDeps } from "../../stats/stats-queries.ts";

/**
 * From the store and the cgroup filesystem, no engine call. NOT_FOUND for an unknown id: the
 * kubelet tolerates only that code when a container goes between its list and its stats call.
 */
export function containerStatsHandler(
  deps: StatsDeps,
): ServiceHandlers<typeof RuntimeService>["containerStats"] {
  return async (request) => ({ stats: await containerStats(deps, request.containerId) });
}
