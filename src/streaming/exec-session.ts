import type { Logger } from "pino";
import { messageOf } from "../errors.ts";
import type { CommandOutcome } from "./command-status.ts";
import { relayDockerConnection, serialResizer } from "./docker-relay.ts";
import { killProcessTree } from "./process-tree.ts";
import { delay, type RemoteCommandStreams, type StreamFlags } from "./remote-command.ts";
import { type StreamingEngine, waitExecExit } from "./streaming-engine.ts";

export interface ExecSpec {
  containerId: string;
  cmd: string[];
  flags: StreamFlags;
}

/**
 * Runs a command in a container through Docker exec for one streaming session and answers
 * how it ended. If the client goes away first, the exec'd process and its descendants are
 * killed on the host: Docker itself would leave them running.
 */
export async function runExecSession(
  docker: StreamingEngine,
  spec: ExecSpec,
  io: RemoteCommandStreams,
  log: Logger,
): Promise<CommandOutcome> {
  const { flags } = spec;
  let execId: string | undefined;
  try {
    execId = await docker.createExec(spec.containerId, {
      AttachStdin: flags.stdin,
      AttachStdout: flags.stdout,
      AttachStderr: flags.stderr && !flags.tty,
      Tty: flags.tty,
      Cmd: spec.cmd,
    });
    const id = execId;
    if (io.clientGone.aborted) return { kind: "error", message: "client went away" };
    const { socket, head } = await docker.startExec(id, flags.tty, io.clientGone);
    if (flags.tty) io.onResize(serialResizer((size) => docker.resizeExec(id, size), log));
    const onGone = () => {
      log.info({ execId: id }, "exec client went away: killing the exec'd process");
      killExec(docker, id, log)
        .catch((err: unknown) => log.warn({ execId: id, err: String(err) }, "could not kill exec"))
        .finally(() => socket.destroy());
    };
    io.clientGone.addEventListener("abort", onGone, { once: true });
    await relayDockerConnection({
      socket,
      head,
      tty: flags.tty,
      io,
      stdinAttached: flags.stdin,
      // With a tty, Docker answers stdin EOF by closing the output while the process runs
      // on; the session must last as long as the process, so the EOF is not passed on.
      forwardStdinEof: !flags.tty,
      log,
    });
    io.clientGone.removeEventListener("abort", onGone);
    socket.destroy();
    if (io.clientGone.aborted) return { kind: "error", message: "client went away" };
    const code = await waitExecExit(docker, id);
    return code === 0 ? { kind: "success" } : { kind: "exit", code };
  } catch (err) {
    if (execId && io.clientGone.aborted) await killExec(docker, execId, log);
    log.warn({ err: messageOf(err), containerId: spec.containerId }, "exec session failed");
    return { kind: "error", message: messageOf(err) };
  }
}

/**
 * Kills an exec's process tree on the host, if it runs. An exec that has not started yet
 * (no exit code, no PID) may be about to: it is looked at again for a moment.
 */
export async function killExec(docker: StreamingEngine, execId: string, log: Logger) {
  try {
    const deadline = Date.now() + 3_000;
    for (;;) {
      const inspect = await docker.inspectExec(execId);
      if (inspect.Running && inspect.Pid > 0) {
        await killProcessTree(inspect.Pid);
        return;
      }
      if (inspect.ExitCode !== null || Date.now() > deadline) return;
      await delay(50);
    }
  } catch (err) {
    log.warn({ err: messageOf(err), execId }, "could not kill an exec'd process");
  }
}
