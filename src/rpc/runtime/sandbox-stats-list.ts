import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { listPodSandboxStats, type StatsDeps } from "../../stats/stats-queries.ts";
import { sendInPages } from "../stream-pages.ts";

type Rpc = ServiceHandlers<typeof RuntimeService>;

export function listPodSandboxStatsHandler(deps: StatsDeps): Rpc["listPodSandboxStats"] {
  return async (request) => ({ stats: await listPodSandboxStats(deps, request.filter) });
}

export function streamPodSandboxStatsHandler(deps: StatsDeps): Rpc["streamPodSandboxStats"] {
  return async (request, send) => {
    const stats = await listPodSandboxStats(deps, request.filter);
    await sendInPages(stats, (page) => send({ podSandboxStats: page }));
  };
}
