import { create } from "@bufbuild/protobuf";
import { ContainerConfigSchema, PodSandboxConfigSchema } from "../../src/gen/runtime/v1/api_pb.js";
import type { BerthRecord } from "../../src/store/from-docker.ts";
import type {
  AppliedSettings,
  ContainerRecord,
  ProcessState,
  SandboxRecord,
} from "../../src/store/records.ts";
import type { SandboxNetworkState } from "../../src/store/sandbox-checkpoint.ts";

/** Hand-made store records for unit tests of the store and its readers. */

/** A container's applied settings when the engine set none of them. */
export const UNSET_APPLIED: AppliedSettings = {
  cpuPeriod: 0,
  cpuQuota: 0,
  cpuShares: 0,
  cpusetCpus: "",
  cpusetMems: "",
  memory: 0,
  memorySwap: 0,
  oomScoreAdj: 0,
  user: "",
  groupAdd: [],
  stopSignal: "",
  tty: false,
  openStdin: false,
};

export const runningProcess = (pid = 100): ProcessState => ({
  status: "running",
  pid,
  exitCode: 0,
  oomKilled: false,
  error: "",
  startedAt: 1_700_000_000_000_000_000n,
  finishedAt: 0n,
});

export function sandboxEntry(id: string, name = `k8s_POD_${id.slice(0, 4)}`): BerthRecord {
  const record: SandboxRecord = {
    id,
    name,
    config: create(PodSandboxConfigSchema, {
      metadata: { name, namespace: "default", uid: `uid-${name}` },
    }),
    runtimeHandler: "",
    createdAt: 1n,
    process: runningProcess(),
    network: undefined,
  };
  return { kind: "sandbox", record };
}

export function containerEntry(id: string, sandboxId: string): BerthRecord {
  const record: ContainerRecord = {
    id,
    name: `k8s_app_${id.slice(0, 4)}`,
    sandboxId,
    config: create(ContainerConfigSchema, { metadata: { name: "app" } }),
    createdAt: 2n,
    imageId: `sha256:${"0".repeat(64)}`,
    userImage: "busybox",
    logPath: "",
    process: runningProcess(200),
    applied: { ...UNSET_APPLIED },
  };
  return { kind: "container", record };
}

export function networkState(overrides: Partial<SandboxNetworkState> = {}): SandboxNetworkState {
  return {
    netnsPath: "/var/lib/berth/netns/x",
    hostNetwork: false,
    cniNetwork: "fake-net",
    ifName: "eth0",
    ips: ["10.88.0.9"],
    portMappings: [],
    podName: "web",
    podNamespace: "default",
    podUid: "uid-web",
    sandbox: {
      name: "k8s_POD_web_default_uid-web_0",
      configJson: JSON.stringify({
        metadata: { name: "web", namespace: "default", uid: "uid-web" },
      }),
      runtimeHandler: "",
      createdAt: "1700000000000000000",
    },
    attached: true,
    ready: true,
    ...overrides,
  };
}
