import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { listPodSandboxMetrics, type StatsDeps } from "../../stats/stats-queries.ts";
import { sendInPages } from "../stream-pages.ts";

type Rpc = ServiceHandlers<typeof RuntimeService>;

/** Each pod's metrics are large (every container's series): fewer per streamed message. */
const METRICS_PAGE = 50;

export function listPodSandboxMetricsHandler(deps: StatsDeps): Rpc["listPodSandboxMetrics"] {
  return async () => ({ podMetrics: await listPodSandboxMetrics(deps) });
}

export function streamPodSandboxMetricsHandler(deps: StatsDeps): Rpc["streamPodSandboxMetrics"] {
  return async (_request, send) => {
    const metrics = await listPodSandboxMetrics(deps);
    await sendInPages(metrics, (page) => send({ podSandboxMetrics: page }), METRICS_PAGE);
  };
}
