import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import {
  runningContainer,
  type StreamingDeps,
  streamFlagsOf,
  validateStreamFlags,
} from "./streaming-request.ts";

/** Attach: validates the request and answers with a single-use URL on the streaming server. */
export function attach(deps: StreamingDeps): ServiceHandlers<typeof RuntimeService>["attach"] {
  return async (request, { signal }) => {
    const flags = streamFlagsOf(request);
    validateStreamFlags(request.containerId, flags);
    const container = await runningContainer(deps.lookup, request.containerId, signal);
    const url = deps.server.requestUrl({
      kind: "attach",
      containerId: container.id,
      flags,
      containerTty: container.tty,
      containerStdin: container.stdin,
    });
    return { url };
  };
}
