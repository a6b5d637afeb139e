import { toJson } from "@bufbuild/protobuf";
import { invalidArgument } from "../../errors.ts";
import { PodSandboxConfigSchema, type RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { sandboxState, toPodSandboxStatus } from "../../runtime/sandbox-convert.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { nowNanos } from "../../util/time.ts";
import type { Services } from "../services.ts";

export function sandboxStatus(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["podSandboxStatus"] {
  return async (request) => {
    if (request.podSandboxId === "") throw invalidArgument("pod_sandbox_id is empty");
    const sandbox = s.store.requireSandbox(request.podSandboxId);
    const state = sandboxState(sandbox);
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.info = JSON.stringify(
        {
          pid: sandbox.process.pid,
          pauseContainer: { name: sandbox.name, status: sandbox.process.status },
          runtimeHandler: sandbox.runtimeHandler,
          network: sandbox.network ?? null,
          config: toJson(PodSandboxConfigSchema, sandbox.config),
        },
        (_key, value) => (typeof value === "bigint" ? value.toString() : value),
      );
    }
    return {
      status: toPodSandboxStatus(sandbox, state),
      info,
      timestamp: nowNanos(),
    };
  };
}
