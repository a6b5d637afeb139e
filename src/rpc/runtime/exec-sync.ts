import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import { runCommand } from "../../streaming/exec-sync.ts";
import type { StreamingEngine } from "../../streaming/streaming-engine.ts";
import type { StreamingLookup } from "../../streaming/streaming-lookup.ts";
import { runningContainer } from "./streaming-request.ts";

/** ExecSync: the command's output and exit code, killed on the host when it times out. */
export function execSync(deps: {
  docker: StreamingEngine;
  lookup: StreamingLookup;
}): ServiceHandlers<typeof RuntimeService>["execSync"] {
  return async (request, { signal, log }) => {
    if (request.containerId === "") throw invalidArgument("missing required container_id");
    if (request.cmd.length === 0) throw invalidArgument("cmd must not be empty");
    const container = await runningContainer(deps.lookup, request.containerId, signal);
    return runCommand(
      deps.docker,
      container.id,
      [...request.cmd],
      Number(request.timeout),
      signal,
      log,
    );
  };
}
