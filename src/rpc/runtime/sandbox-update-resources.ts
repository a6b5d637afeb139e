import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * The kubelet resizes the pod-level cgroup itself and tells the runtime afterwards, so that a
 * runtime managing pod cgroups could follow. berth places containers under the cgroup parent
 * the kubelet chose and manages no pod cgroup of its own: nothing to change, beyond checking
 * that the sandbox exists (NOT_FOUND otherwise, as for every sandbox call).
 */
export function sandboxUpdateResources(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["updatePodSandboxResources"] {
  return async (request) => {
    if (request.podSandboxId === "") throw invalidArgument("pod_sandbox_id is empty");
    s.store.requireSandbox(request.podSandboxId);
    return {};
  };
}
