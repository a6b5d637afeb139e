import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { stopSandbox, withSandboxLock } from "./sandbox-lifecycle.ts";

/**
 * Idempotent, as api.proto requires: stopping an unknown or already stopped sandbox succeeds
 * ("must not return an error if all relevant resources have already been reclaimed").
 */
export function sandboxStop(s: Services): ServiceHandlers<typeof RuntimeService>["stopPodSandbox"] {
  return async (request, { signal }) => {
    if (request.podSandboxId === "") throw invalidArgument("pod_sandbox_id is empty");
    await withSandboxLock(s, request.podSandboxId, (sandbox) => stopSandbox(s, sandbox, signal));
    return {};
  };
}
