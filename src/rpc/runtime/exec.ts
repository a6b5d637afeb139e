import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import {
  runningContainer,
  type StreamingDeps,
  streamFlagsOf,
  validateStreamFlags,
} from "./streaming-request.ts";

/**
 * Exec: validates the request and answers with a single-use URL on the streaming server; the
 * command runs once the client connects there.
 */
export function exec(deps: StreamingDeps): ServiceHandlers<typeof RuntimeService>["exec"] {
  return async (request, { signal }) => {
    const flags = streamFlagsOf(request);
    validateStreamFlags(request.containerId, flags);
    if (request.cmd.length === 0) throw invalidArgument("cmd must not be empty");
    const container = await runningContainer(deps.lookup, request.containerId, signal);
    const url = deps.server.requestUrl({
      kind: "exec",
      containerId: container.id,
      cmd: [...request.cmd],
      flags,
    });
    return { url };
  };
}
