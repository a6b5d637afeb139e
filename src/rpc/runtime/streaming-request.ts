import { failedPrecondition, invalidArgument, notFound } from "../../errors.ts";
import type { StreamFlags } from "../../streaming/remote-command.ts";
import type { StreamingContainer, StreamingLookup } from "../../streaming/streaming-lookup.ts";
import type { StreamingServer } from "../../streaming/streaming-server.ts";

/** What the Exec, Attach and PortForward handlers need. */
export interface StreamingDeps {
  server: StreamingServer;
  lookup: StreamingLookup;
}

/** The streams an Exec or Attach request asks for. */
export function streamFlagsOf(request: StreamFlags): StreamFlags {
  return {
    stdin: request.stdin,
    stdout: request.stdout,
    stderr: request.stderr,
    tty: request.tty,
  };
}

/** The checks upstream's streaming server makes on Exec and Attach requests. */
export function validateStreamFlags(containerId: string, flags: StreamFlags): void {
  if (containerId === "") throw invalidArgument("missing required container_id");
  if (flags.tty && flags.stderr) throw invalidArgument("tty and stderr cannot both be true");
  if (!flags.stdin && !flags.stdout && !flags.stderr) {
    throw invalidArgument("one of stdin, stdout, or stderr must be set");
  }
}

/** The container, which must exist and run: NOT_FOUND or FAILED_PRECONDITION otherwise. */
export async function runningContainer(
  lookup: StreamingLookup,
  containerId: string,
  signal: AbortSignal,
): Promise<StreamingContainer> {
  const container = await lookup.container(containerId, signal);
  if (!container) throw notFound(`container ${containerId} not found`);
  if (!container.running) throw failedPrecondition(`container ${containerId} is not running`);
  return container;
}
