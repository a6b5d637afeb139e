import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { metricDescriptors } from "../../stats/metrics.ts";

export function listMetricDescriptorsHandler(): ServiceHandlers<
  typeof RuntimeService
>["listMetricDescriptors"] {
  return async () => ({ descriptors: metricDescriptors() });
}
