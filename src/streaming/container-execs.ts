import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import type { ExecInspect } from "../docker/types.ts";
import { killProcessTrees } from "./process-tree.ts";
import { delay } from "./remote-command.ts";

/** How long a stop waits for the engine to see the killed exec'd processes exit. */
const EXITS_SEEN_MS = 5_000;

/**
 * Whether a container's PID namespace is its own (Docker's default, CRI CONTAINER), rather
 * than its pod's (`container:<pause>`, CRI POD) or the host's.
 */
export function ownsPidNamespace(pidMode: string | undefined): boolean {
  return pidMode === undefined || pidMode === "" || pidMode === "private";
}

/**
 * Kills the exec'd processes of a running container that does not own its PID namespace,
 * and waits (bounded) until the engine has seen them exit: called before the engine is asked
 * to stop or remove the container.
 *
 * Why (issue 14): when the main process of such a container exits, containerd's runc shim
 * kills whatever is left in the container (`runc kill --all`) from the one loop that handles
 * every process exit of the container. The exits of the exec'd processes killed that way
 * then wait behind that loop, the engine's kill waits on the shim with the container locked,
 * and a StopPodSandbox with 100 open exec sessions took a minute or more (an inspect of the
 * container meanwhile too). Killed first, each exec'd process exits while the shim is free,
 * and the container's stop finds nothing else to kill. They would die with the container
 * anyway; their clients see the exit code of a SIGKILL, as they would then.
 *
 * A container with its own PID namespace loses its exec'd processes with its main process,
 * by the kernel, without that loop waiting: it is left to the engine.
 */
export async function killExecsBeforeStop(
  docker: Pick<DockerEngine, "findContainer" | "inspectExec">,
  containerId: string,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  const inspect = await docker.findContainer(containerId, signal);
  if (!inspect?.State.Running || ownsPidNamespace(inspect.HostConfig.PidMode)) return;
  let running = await runningExecs(docker, inspect.ExecIDs ?? [], signal);
  if (running.length === 0) return;
  log.debug({ containerId, execs: running.length }, "killing exec'd processes before the stop");
  await killProcessTrees(running.map((exec) => exec.Pid));
  const deadline = Date.now() + EXITS_SEEN_MS;
  while (running.length > 0 && Date.now() < deadline) {
    await delay(50);
    running = await runningExecs(
      docker,
      running.map((exec) => exec.ID),
      signal,
    );
  }
  if (running.length > 0) {
    log.warn(
      { containerId, execs: running.length },
      "exec'd processes still running after being killed; stopping the container anyway",
    );
  }
}

async function runningExecs(
  docker: Pick<DockerEngine, "inspectExec">,
  ids: string[],
  signal: AbortSignal,
): Promise<ExecInspect[]> {
  const found = await Promise.all(
    ids.map((id) =>
      docker.inspectExec(id, signal).catch((err: unknown) => {
        // Gone already (the engine forgets exited execs after a while): nothing to kill.
        if (signal.aborted) throw err;
        return undefined;
      }),
    ),
  );
  return found.filter((exec): exec is ExecInspect => exec?.Running === true && exec.Pid > 0);
}
