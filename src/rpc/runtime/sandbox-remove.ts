import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { removeSandbox, withSandboxLock } from "./sandbox-lifecycle.ts";

/**
 * Removes a sandbox and everything in it, stopping it first when it still runs. Unknown ids
 * succeed: api.proto makes RemovePodSandbox idempotent.
 */
export function sandboxRemove(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["removePodSandbox"] {
  return async (request, { signal }) => {
    if (request.podSandboxId === "") throw invalidArgument("pod_sandbox_id is empty");
    // The store holds every sandbox berth knows of, those whose pause container the engine
    // lost included (their network is released then): an id it lacks has nothing to remove.
    await withSandboxLock(s, request.podSandboxId, (sandbox) => removeSandbox(s, sandbox, signal));
    return {};
  };
}
