import { ignoreNotFound, removedUnlessPresent } from "../../docker/errors.ts";
import type { SandboxRecord } from "../../store/records.ts";
import type { Services } from "../services.ts";
import { removeContainer, withContainerLock } from "./container-lifecycle.ts";

/**
 * Stopping and removing sandboxes, shared by StopPodSandbox, RemovePodSandbox and the
 * rollback of a failed RunPodSandbox. Every step tolerates what is already gone: the CRI
 * makes Stop and Remove idempotent, and after a crash any subset of the steps may be done.
 */

/**
 * The one lock of a sandbox, shared by RunPodSandbox, StopPodSandbox and RemovePodSandbox.
 * It is keyed by the pause container's name, derived from the pod's metadata: Run knows only
 * that before the sandbox exists (a kubelet retry of a timed-out Run must wait for the first
 * attempt), Stop and Remove read it from the sandbox found by id. Every call takes this one
 * sandbox lock and no other (container locks only inside it), so none can deadlock.
 */
export function sandboxLockKey(name: string): string {
  return `name:${name}`;
}

/**
 * Runs a Stop or Remove of the sandbox `id` under its lock, looking the sandbox up again
 * once the lock is held: the call before may have removed it, which makes this one a
 * success.
 */
export async function withSandboxLock(
  s: Services,
  id: string,
  operation: (sandbox: SandboxRecord) => Promise<void>,
): Promise<void> {
  const found = s.store.sandbox(id);
  if (!found) return;
  await s.sandboxLocks.run(sandboxLockKey(found.name), async () => {
    const sandbox = s.store.sandbox(found.id);
    if (sandbox) await operation(sandbox);
  });
}

/** Kills the sandbox's containers, releases its network, stops the pause container. */
export async function stopSandbox(
  s: Services,
  sandbox: SandboxRecord,
  signal: AbortSignal,
): Promise<void> {
  // The kubelet stopped the containers gracefully before; the CRI says whatever still runs
  // "must be forcibly terminated". Without the containers' locks: a StopContainer waiting
  // out a grace period holds its lock, and the engine takes a kill beside a pending stop.
  await Promise.all(
    s.store
      .containersOf(sandbox.id)
      .filter((container) => container.process.status === "running")
      .map(async (container) => {
        await ignoreNotFound(s.docker.stopContainer(container.id, 0, signal));
        await s.sync.refresh(container.id, signal);
      }),
  );
  await releaseNetwork(s, sandbox, signal);
  if (sandbox.process.status !== "gone") {
    await ignoreNotFound(s.docker.stopContainer(sandbox.id, 0, signal));
    await s.sync.refresh(sandbox.id, signal);
  }
}

/** Stop, then remove every container of the sandbox, the pause container and the checkpoint. */
export async function removeSandbox(
  s: Services,
  sandbox: SandboxRecord,
  signal: AbortSignal,
): Promise<void> {
  await stopSandbox(s, sandbox, signal);
  for (const { id } of s.store.containersOf(sandbox.id)) {
    await withContainerLock(s, id, (container) => removeContainer(s, container, signal));
  }
  await removedUnlessPresent(
    s.docker.removeContainer(sandbox.id, signal),
    async () => (await s.docker.findContainer(sandbox.id, signal)) !== undefined,
  );
  await s.netns.unpin(sandbox.id);
  await s.sync.forget(sandbox.id);
}

/**
 * Detaches the pod from its network using the checkpoint, whether or not the pause container
 * (and so its network namespace) still exists.
 */
export async function releaseNetwork(
  s: Services,
  sandbox: Pick<SandboxRecord, "id" | "network">,
  signal: AbortSignal,
): Promise<void> {
  const state = sandbox.network;
  if (!state) return;
  if (!state.attached || state.hostNetwork) {
    // Nothing to detach; a stopped sandbox is never READY again.
    if (state.ready) await s.sync.saveNetwork(sandbox.id, { ...state, ready: false });
    return;
  }
  // The pinned namespace outlives the pause container, but not a reboot; without it the
  // plugins still release the pod's addresses.
  const netnsPath = (await s.netns.isPinned(state.netnsPath)) ? state.netnsPath : "";
  const failures = await s.podNetwork.detach(sandbox.id, state, netnsPath, signal);
  for (const failure of failures) {
    s.log.warn({ sandbox: sandbox.id, failure }, "network teardown step failed; teardown finished");
  }
  await s.netns.unpin(sandbox.id);
  await s.sync.saveNetwork(sandbox.id, { ...state, attached: false, ready: false, ips: [] });
}
