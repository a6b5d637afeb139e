import type { DockerEngine } from "../docker/engine.ts";
import { delay } from "./remote-command.ts";

/** The engine calls the streaming code makes. */
export type StreamingEngine = Pick<
  DockerEngine,
  | "createExec"
  | "startExec"
  | "inspectExec"
  | "resizeExec"
  | "attachContainer"
  | "resizeContainer"
  | "findContainer"
>;

/**
 * The exit code of an exec whose streams have ended. The engine closes the streams a moment
 * before it records the exit, so a still-running answer is asked again for a while.
 */
export async function waitExecExit(
  docker: Pick<DockerEngine, "inspectExec">,
  execId: string,
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let pause = 5;
  for (;;) {
    const inspect = await docker.inspectExec(execId);
    if (!inspect.Running && inspect.ExitCode !== null) return inspect.ExitCode;
    if (Date.now() > deadline) {
      throw new Error(`exec ${execId} still running after its streams closed`);
    }
    await delay(pause);
    pause = Math.min(pause * 2, 200);
  }
}
