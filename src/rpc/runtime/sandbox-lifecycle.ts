import { removeCriDockerdLeftovers } from "../../adopt/adopt-cri-dockerd.ts";
import { ignoreNotFound, removedUnlessPresent } from "../../docker/errors.ts";
import { unavailable } from "../../errors.ts";
import { LABEL_SANDBOX_ID } from "../../store/labels.ts";
import type { SandboxRecord } from "../../store/records.ts";
import { killExecsBeforeStop } from "../../streaming/container-execs.ts";
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
        await killExecsBeforeStop(s.docker, container.id, signal, s.log);
        await ignoreNotFound(s.docker.stopContainer(container.id, 0, signal));
        await s.sync.refresh(container.id, signal);
      }),
  );
  // A failed network teardown still stops the pod; the failure is answered afterwards. The
  // network namespace is pinned, so CNI DEL does not need the pause container: both at once.
  // A pause container already stopped (Remove after Stop) is not stopped again.
  const pause = s.store.sandbox(sandbox.id)?.process.status ?? sandbox.process.status;
  const [network, stopped] = await Promise.allSettled([
    releaseNetwork(s, sandbox, signal),
    pause === "gone" || pause === "exited" || pause === "dead"
      ? Promise.resolve()
      : (async () => {
          await ignoreNotFound(s.docker.stopContainer(sandbox.id, 0, signal));
          await s.sync.refresh(sandbox.id, signal);
        })(),
  ]);
  if (stopped.status === "rejected") throw stopped.reason;
  if (network.status === "rejected") throw network.reason;
}

/** Stop, then remove every container of the sandbox, the pause container and the checkpoint. */
export async function removeSandbox(
  s: Services,
  sandbox: SandboxRecord,
  signal: AbortSignal,
): Promise<void> {
  await stopSandbox(s, sandbox, signal);
  // A container the store never learned of (created just before the engine went away, the
  // refresh after it failing) is found by the engine's labels, the source of truth.
  const inEngine = await s.docker.listContainers(
    { label: [`${LABEL_SANDBOX_ID}=${sandbox.id}`] },
    signal,
  );
  for (const { Id } of inEngine) {
    if (!s.store.container(Id)) await s.sync.refresh(Id, signal);
  }
  await Promise.all(
    s.store
      .containersOf(sandbox.id)
      .map(({ id }) =>
        withContainerLock(s, id, (container) => removeContainer(s, container, signal)),
      ),
  );
  await removedUnlessPresent(
    s.docker.removeContainer(sandbox.id, signal),
    async () => (await s.docker.findContainer(sandbox.id, signal)) !== undefined,
  );
  await s.netns.unpin(sandbox.id);
  // Before berth's checkpoint goes: it is what says where cri-dockerd's state of the pod lies.
  if (sandbox.network) await removeCriDockerdLeftovers(sandbox.network, sandbox.id);
  await s.sync.forget(sandbox.id);
}

/**
 * How many failed network teardowns of a completed CNI ADD (one per StopPodSandbox or
 * RemovePodSandbox, the kubelet retrying them) make berth give up on the plugins and finish
 * the teardown anyway: a DEL that can never succeed must not keep a pod from being removed.
 */
export const NETWORK_TEARDOWN_ATTEMPTS = 3;

/**
 * Detaches the pod from its network using the checkpoint, whether or not the pause container
 * (and so its network namespace) still exists.
 *
 * A failing CNI DEL of a completed ADD fails the call (UNAVAILABLE, naming the plugin) and
 * keeps the CNI cache, the pinned namespace and the checkpoint's `attached`, so the next Stop
 * or Remove runs the same DEL again; the NETWORK_TEARDOWN_ATTEMPTS-th failure gives up (an
 * error in the log, with the addresses the plugins may still hold) and teardown finishes. A
 * DEL of an ADD that never completed (berth died or the ADD failed half-way) finishes at once
 * whatever the plugins say: they trip over what that ADD never made (the bridge plugin over
 * its missing NAT chain), and retrying cannot change that.
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
  const addCompleted = state.cniNetwork !== undefined;
  const attempt = (state.teardownFailures ?? 0) + 1;
  const retryLater = addCompleted && attempt < NETWORK_TEARDOWN_ATTEMPTS;
  const failures = await s.podNetwork.detach(sandbox.id, state, netnsPath, signal, {
    keepCacheOnFailure: retryLater,
  });
  if (failures.length > 0 && retryLater) {
    await s.sync.saveNetwork(sandbox.id, { ...state, ready: false, teardownFailures: attempt });
    s.log.warn(
      { sandbox: sandbox.id, failures, attempt, attempts: NETWORK_TEARDOWN_ATTEMPTS },
      "network teardown failed; the next StopPodSandbox or RemovePodSandbox tries again",
    );
    throw unavailable(
      `network teardown of sandbox ${sandbox.id} failed (attempt ${attempt} of ${NETWORK_TEARDOWN_ATTEMPTS}; the next StopPodSandbox or RemovePodSandbox tries again): ${failures.join("; ")}`,
    );
  }
  if (failures.length > 0 && addCompleted) {
    s.log.error(
      { sandbox: sandbox.id, failures, attempts: attempt, ips: state.ips },
      "network teardown failed every time; giving up: the plugins may still hold the pod's addresses",
    );
  } else {
    for (const failure of failures) {
      s.log.warn(
        { sandbox: sandbox.id, failure },
        "network teardown step failed; teardown finished",
      );
    }
  }
  await s.netns.unpin(sandbox.id);
  const { teardownFailures: _, ...rest } = state;
  await s.sync.saveNetwork(sandbox.id, { ...rest, attached: false, ready: false, ips: [] });
}
