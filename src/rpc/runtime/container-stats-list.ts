import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { listContainerStats, type StatsDeps } from "../../stats/stats-queries.ts";
import { sendInPages } from "../stream-pages.ts";

type Rpc = ServiceHandlers<typeof RuntimeService>;

export function listContainerStatsHandler(deps: StatsDeps): Rpc["listContainerStats"] {
  return async (request) => ({ stats: await listContainerStats(deps, request.filter) });
}

export function streamContainerStatsHandler(deps: StatsDeps): Rpc["streamContainerStats"] {
  return async (request, send) => {
    const stats = await listContainerStats(deps, request.filter);
    await sendInPages(stats, (page) => send({ containerStats: page }));
  };
}
