import { messageOf } from "../../errors.ts";
import type { Services } from "../services.ts";

/**
 * After a restart, berth checks the networks of the sandboxes it still reports READY (CNI
 * CHECK, where the config allows it): a pod whose network broke while berth was away (an
 * interface deleted, a rule flushed) is reported NOTREADY, so the kubelet recreates it rather
 * than leaving it unreachable.
 */
export async function verifySandboxNetworks(s: Services, signal: AbortSignal): Promise<void> {
  for (const sandbox of [...s.store.sandboxes()]) {
    if (sandbox.process.status !== "running") continue;
    const state = sandbox.network;
    if (!state?.ready || state.hostNetwork || !state.attached) continue;
    // Not for pods adopted from cri-dockerd: portmap 1.1's CHECK fails on their attachments
    // (an ip6tables chain it never made), and NOTREADY would have the kubelet recreate the
    // very pods the switch kept running.
    if (state.adoptedFrom) continue;
    if (!(await s.netns.isPinned(state.netnsPath))) continue;
    try {
      const broken = await s.podNetwork.verify(sandbox.id, state, signal);
      if (broken === undefined) continue;
      s.log.warn({ sandbox: sandbox.id, broken }, "pod network failed CNI CHECK: sandbox NOTREADY");
      await s.sync.saveNetwork(sandbox.id, { ...state, ready: false });
    } catch (err) {
      s.log.warn({ sandbox: sandbox.id, err: messageOf(err) }, "could not check the pod network");
    }
  }
}
