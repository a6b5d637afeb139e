import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * The kubelet checks `version` against the CRI API version it speaks and refuses anything
 * but "0.1.0", whatever berth's own release is.
 */
export const KUBELET_API_VERSION = "0.1.0";
export const RUNTIME_NAME = "docker";
export const RUNTIME_API_VERSION = "v1";

export function version(s: Services): ServiceHandlers<typeof RuntimeService>["version"] {
  return async (_request, { signal }) => {
    const facts = await s.engine.get(signal);
    return {
      version: KUBELET_API_VERSION,
      runtimeName: RUNTIME_NAME,
      runtimeVersion: facts.version.Version,
      runtimeApiVersion: RUNTIME_API_VERSION,
    };
  };
}
