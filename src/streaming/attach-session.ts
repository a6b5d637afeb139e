import type { Logger } from "pino";
import { messageOf } from "../errors.ts";
import type { CommandOutcome } from "./command-status.ts";
import { relayDockerConnection, serialResizer } from "./docker-relay.ts";
import type { RemoteCommandStreams, StreamFlags } from "./remote-command.ts";
import type { StreamingEngine } from "./streaming-engine.ts";

export interface AttachSpec {
  containerId: string;
  flags: StreamFlags;
  /** How the container was created: its output is raw with a tty, multiplexed without. */
  containerTty: boolean;
  /** Whether the container has a stdin at all (created with OpenStdin). */
  containerStdin: boolean;
}

/**
 * Attaches a session to a container's main process. The session ends when the engine ends
 * the attach: the container exits, or (as `docker attach` behaves) the client's stdin EOF,
 * which is passed on, closes the container's stdin or the attach. A client going away only
 * detaches: the container is not touched.
 */
export async function runAttachSession(
  docker: StreamingEngine,
  spec: AttachSpec,
  io: RemoteCommandStreams,
  log: Logger,
): Promise<CommandOutcome> {
  const stdinAttached = spec.flags.stdin && spec.containerStdin;
  try {
    const { socket, head } = await docker.attachContainer(
      spec.containerId,
      { stdin: stdinAttached, stdout: spec.flags.stdout, stderr: spec.flags.stderr },
      io.clientGone,
    );
    if (spec.containerTty) {
      io.onResize(serialResizer((size) => docker.resizeContainer(spec.containerId, size), log));
    }
    const onGone = () => socket.destroy();
    io.clientGone.addEventListener("abort", onGone, { once: true });
    await relayDockerConnection({
      socket,
      head,
      tty: spec.containerTty,
      io,
      stdinAttached,
      forwardStdinEof: true,
      log,
    });
    io.clientGone.removeEventListener("abort", onGone);
    socket.destroy();
    return { kind: "success" };
  } catch (err) {
    log.warn({ err: messageOf(err), containerId: spec.containerId }, "attach session failed");
    return { kind: "error", message: messageOf(err) };
  }
}
