import { ignoreNotFound, removedUnlessPresent } from "../../docker/errors.ts";
import type { ContainerRecord } from "../../store/records.ts";
import { killExecsBeforeStop } from "../../streaming/container-execs.ts";
import type { Services } from "../services.ts";

/**
 * Stopping and removing containers, shared by StopContainer, RemoveContainer and a sandbox's
 * teardown. Calls on one container run one after another under its lock (s.containerLocks),
 * each looking the container up again once it holds the lock: the call before may have
 * removed it, which makes this one a success (the CRI makes Stop and Remove idempotent).
 */
export async function withContainerLock(
  s: Services,
  id: string,
  operation: (container: ContainerRecord) => Promise<void>,
): Promise<void> {
  const found = s.store.container(id);
  if (!found) return;
  await s.containerLocks.run(found.id, async () => {
    const container = s.store.container(found.id);
    if (container) await operation(container);
  });
}

/**
 * Stops with the container's stop signal, SIGKILL after `timeoutSeconds`. Exec'd processes
 * in a PID namespace the container does not own are killed first (killExecsBeforeStop).
 */
export async function stopContainer(
  s: Services,
  container: ContainerRecord,
  timeoutSeconds: number,
  signal: AbortSignal,
): Promise<void> {
  await killExecsBeforeStop(s.docker, container.id, signal, s.log);
  await ignoreNotFound(s.docker.stopContainer(container.id, timeoutSeconds, signal));
  await s.sync.refresh(container.id, signal);
}

/** Removes (killing it first when it runs) and forgets everything berth kept about it. */
export async function removeContainer(
  s: Services,
  container: ContainerRecord,
  signal: AbortSignal,
): Promise<void> {
  if (container.process.status === "running") {
    await killExecsBeforeStop(s.docker, container.id, signal, s.log);
  }
  await removedUnlessPresent(
    s.docker.removeContainer(container.id, signal),
    async () => (await s.docker.findContainer(container.id, signal)) !== undefined,
  );
  await s.logs.stop(container.id);
  s.startFailures.forget(container.id);
  await s.sync.forget(container.id);
}
