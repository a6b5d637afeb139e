import { failedPrecondition, invalidArgument, notFound } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { StreamingDeps } from "./streaming-request.ts";

/**
 * PortForward: validates the request and answers with a single-use URL on the streaming
 * server. The ports a client forwards travel in the SPDY stream headers; the request's list
 * (often empty: the kubelet fills it only for websocket clients) is checked for range but,
 * as upstream, not enforced.
 */
export function portForward(
  deps: StreamingDeps,
): ServiceHandlers<typeof RuntimeService>["portForward"] {
  return async (request, { signal }) => {
    if (request.podSandboxId === "") throw invalidArgument("missing required pod_sandbox_id");
    for (const port of request.port) {
      if (!(port >= 1 && port <= 65535)) throw invalidArgument(`invalid port ${port}`);
    }
    const sandbox = await deps.lookup.sandbox(request.podSandboxId, signal);
    if (!sandbox) throw notFound(`pod sandbox ${request.podSandboxId} not found`);
    if (!sandbox.ready) {
      throw failedPrecondition(`pod sandbox ${request.podSandboxId} is not ready`);
    }
    const url = deps.server.requestUrl({
      kind: "portforward",
      sandboxId: sandbox.id,
      netnsPath: sandbox.netnsPath,
    });
    return { url };
  };
}
