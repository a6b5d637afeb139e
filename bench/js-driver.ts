import { NamespaceMode } from "../src/gen/runtime/v1/api_pb.js";
import { type CriClient, criClient } from "../test/support/cri-client.ts";
import {
  type CriDriver,
  type MeasuredCall,
  type PodSpec,
  type PollResult,
  podLabels,
  type StartedPod,
} from "./driver.ts";

const elapsed = (started: number) => performance.now() - started;

/** The benchmark's load through grpc-js, in this process. */
export class JsDriver implements CriDriver {
  readonly kind = "js";
  private readonly client: CriClient;

  constructor(endpoint: string) {
    this.client = criClient(endpoint);
  }

  async ensureImage(image: string): Promise<void> {
    const { image: found } = await this.client.image.imageStatus({ image: { image } });
    if (!found) await this.client.image.pullImage({ image: { image } });
  }

  async runPod(pod: PodSpec): Promise<StartedPod> {
    const labels = podLabels(pod);
    const config = {
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 },
      hostname: pod.name,
      logDirectory: pod.logDirectory,
      labels,
      linux: {
        cgroupParent: pod.cgroupParent,
        securityContext: {
          namespaceOptions: {
            network: NamespaceMode.POD,
            pid: NamespaceMode.CONTAINER,
            ipc: NamespaceMode.POD,
          },
        },
      },
    };
    const started = performance.now();
    const { podSandboxId } = await this.client.runtime.runPodSandbox({ config });
    const containerIds: string[] = [];
    for (let j = 0; j < pod.containers; j++) {
      const { containerId } = await this.client.runtime.createContainer({
        podSandboxId,
        sandboxConfig: config,
        config: {
          metadata: { name: `app-${j}`, attempt: 0 },
          image: { image: pod.image },
          command: ["sleep", "3600"],
          logPath: `app-${j}/0.log`,
          labels: { ...labels, "io.kubernetes.container.name": `app-${j}` },
        },
      });
      await this.client.runtime.startContainer({ containerId });
      containerIds.push(containerId);
    }
    return { podId: podSandboxId, containerIds, ms: elapsed(started) };
  }

  async removePod(podId: string): Promise<number> {
    const started = performance.now();
    await this.client.runtime.stopPodSandbox({ podSandboxId: podId });
    await this.client.runtime.removePodSandbox({ podSandboxId: podId });
    return elapsed(started);
  }

  private call(call: MeasuredCall, i: number, pods: StartedPod[]): Promise<unknown> {
    const pod = pods[i % Math.max(1, pods.length)];
    const runtime = this.client.runtime;
    switch (call) {
      case "relist":
        return runtime.listPodSandbox({}).then(() => runtime.listContainers({}));
      case "podSandboxStatus":
        return runtime.podSandboxStatus({ podSandboxId: pod?.podId ?? "" });
      case "containerStatus":
        return runtime.containerStatus({ containerId: pod?.containerIds[0] ?? "" });
      case "status":
        return runtime.status({});
      case "listContainerStats":
        return runtime.listContainerStats({});
      case "listPodSandboxStats":
        return runtime.listPodSandboxStats({});
    }
  }

  async measure(call: MeasuredCall, n: number, pods: StartedPod[]): Promise<number[]> {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await this.call(call, i, pods);
      samples.push(elapsed(started));
    }
    return samples;
  }

  async poll(seconds: number, pods: StartedPod[], uids: string[]): Promise<PollResult> {
    const runtime = this.client.runtime;
    const latencies: Record<string, number[]> = {};
    let errors = 0;
    const timedCall = async (name: string, operation: () => Promise<unknown>) => {
      const started = performance.now();
      try {
        await operation();
        const samples = latencies[name] ?? [];
        samples.push(elapsed(started));
        latencies[name] = samples;
      } catch {
        errors++;
      }
    };
    const podStatus = async (index: number) => {
      const pod = pods[index] as StartedPod;
      const uid = uids[index] as string;
      const labelSelector = { "io.kubernetes.pod.uid": uid };
      await runtime.listPodSandbox({ filter: { labelSelector } });
      await timedCall("podSandboxStatus", () =>
        runtime.podSandboxStatus({ podSandboxId: pod.podId }),
      );
      await runtime.listContainers({ filter: { labelSelector } });
      for (const containerId of pod.containerIds)
        await timedCall("containerStatus", () => runtime.containerStatus({ containerId }));
    };
    const started = performance.now();
    let rounds = 0;
    for (let second = 0; second < seconds; second++) {
      const wait = started + second * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await timedCall("relist", async () => {
        await runtime.listPodSandbox({});
        await runtime.listContainers({});
      });
      if (second % 10 === 0) {
        await timedCall("listContainerStats", () => runtime.listContainerStats({}));
        await timedCall("listPodSandboxStats", () => runtime.listPodSandboxStats({}));
        await timedCall("imageFsInfo", () => this.client.image.imageFsInfo({}));
      }
      if (second % 5 === 0) await timedCall("status", () => runtime.status({}));
      for (let i = second % 60; i < pods.length; i += 60)
        await timedCall("podStatus", () => podStatus(i));
      rounds++;
    }
    return { rounds, elapsedSeconds: elapsed(started) / 1000, latencies, errors };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
