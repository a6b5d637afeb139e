/**
 * What cri-dockerd 0.3/0.4 leaves on a node, made on the real engine by berth's own code:
 * containers with cri-dockerd's names, labels and host config, its checkpoint files (with the
 * checksum cri-dockerd verifies), CNI attachments made by the real plugins and cached where and
 * as libcni caches them (the pod's network and cri-dockerd's built-in loopback network, both
 * on eth0), and the kubelet's log paths as symlinks to Docker's json-file logs. Checked against
 * real cri-dockerd v0.3.17 on Docker 20.10 and 28.5 (see the adoption e2e test's header).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { DockerClient } from "../../src/docker/client.ts";
import { CniNetwork } from "../../src/network/cni.ts";
import { writeCacheEntry } from "../../src/network/cni-cache.ts";
import { parseNetworkConfig } from "../../src/network/cni-config.ts";
import {
  listLibcniCacheEntries,
  removeLibcniCacheEntries,
  toBerthCacheEntry,
  writeLibcniCacheEntry,
} from "../../src/network/libcni-cache.ts";
import {
  criDockerdCheckpointPath,
  formatCriDockerdCheckpoint,
} from "../../src/store/cri-dockerd-checkpoint.ts";

/** execFile with stdin: the CNI protocol's config goes there. */
function run(
  file: string,
  args: string[],
  options: { env: Record<string, string>; input: string },
): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: options.env }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file}: ${err.message} ${stdout} ${stderr}`)) : resolve({ stdout }),
    );
    child.stdin?.end(options.input);
  });
}

const log = pino({ level: process.env.BERTH_TEST_LOG ?? "silent" });

/** cri-dockerd's built-in loopback network (network/cni/cni.go getLoNetwork), byte for byte. */
const LOOPBACK_CONFLIST =
  '{\n  "cniVersion": "0.2.0",\n  "name": "cni-loopback",\n  "plugins":[{\n    "type": "loopback"\n  }]\n}';

export interface CriDockerdNode {
  docker: DockerClient;
  rootDir: string;
  cniCacheDir: string;
  /** The conflist file cri-dockerd would pick (the first in its conf dir). */
  conflistFile: string;
  binDirs: string[];
  pauseImage: string;
}

export interface FixtureContainer {
  name: string;
  attempt?: number;
  image: string;
  command: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Started (default) or only created. */
  start?: boolean;
  /** The CRI's stdin, stdin_once and tty, as cri-dockerd passes them to the engine. */
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
}

export interface FixturePod {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  hostname?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  portMappings?: Array<{ protocol: string; containerPort: number; hostPort: number }>;
  /** The kubelet's pod log directory. */
  logDirectory: string;
  containers: FixtureContainer[];
}

export interface MadePod {
  sandboxId: string;
  ip: string | undefined;
  containers: Record<string, { id: string; logPath: string }>;
}

const annotationLabels = (annotations: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(annotations ?? {}).map(([k, v]) => [`annotation.${k}`, v]));

/** RunPodSandbox, CreateContainer and StartContainer as cri-dockerd carries them out. */
export async function makeCriDockerdPod(node: CriDockerdNode, pod: FixturePod): Promise<MadePod> {
  const attempt = pod.attempt ?? 0;
  const sandboxName = `k8s_POD_${pod.name}_${pod.namespace}_${pod.uid}_${attempt}`;
  // cri-dockerd also hands the hostPort mappings to the engine, which ignores them in
  // NetworkMode none (CNI's portmap does the NAT).
  const published = (pod.portMappings ?? []).filter((m) => m.hostPort > 0 && !pod.hostNetwork);
  const portKey = (m: { protocol: string; containerPort: number }) =>
    `${m.containerPort}/${m.protocol.toLowerCase()}`;
  const { Id: sandboxId } = await node.docker.createContainer(sandboxName, {
    Image: node.pauseImage,
    Hostname: pod.hostname ?? pod.name,
    ExposedPorts: Object.fromEntries(published.map((m) => [portKey(m), {}])),
    Labels: {
      ...pod.labels,
      ...annotationLabels(pod.annotations),
      "io.kubernetes.container.name": "POD",
      "io.kubernetes.docker.type": "podsandbox",
    },
    HostConfig: {
      NetworkMode: pod.hostNetwork ? "host" : "none",
      PortBindings: Object.fromEntries(
        published.map((m) => [portKey(m), [{ HostIp: "", HostPort: String(m.hostPort) }]]),
      ),
      IpcMode: "shareable",
      SecurityOpt: ["no-new-privileges"],
      CpuShares: 2,
      ShmSize: 64 * 1024 * 1024,
    },
  });
  // The checkpoint comes before the start, as in cri-dockerd's RunPodSandbox.
  const checkpoint = criDockerdCheckpointPath(node.rootDir, sandboxId);
  await mkdir(join(node.rootDir, "sandbox"), { recursive: true, mode: 0o755 });
  await writeFile(
    checkpoint,
    formatCriDockerdCheckpoint({
      name: pod.name,
      namespace: pod.namespace,
      portMappings: (pod.portMappings ?? []).map((m) => ({ ...m, hostIP: "" })),
      hostNetwork: pod.hostNetwork ?? false,
    }),
    { mode: 0o600 },
  );
  await node.docker.startContainer(sandboxId);
  const pause = await node.docker.inspectContainer(sandboxId);
  let ip: string | undefined;
  if (!pod.hostNetwork) ip = await attach(node, pod, sandboxId, pause.State.Pid);

  const containers: MadePod["containers"] = {};
  for (const container of pod.containers) {
    const containerAttempt = container.attempt ?? 0;
    const logPath = join(pod.logDirectory, container.name, `${containerAttempt}.log`);
    const { Id } = await node.docker.createContainer(
      `k8s_${container.name}_${pod.name}_${pod.namespace}_${pod.uid}_${containerAttempt}`,
      {
        Image: container.image,
        Entrypoint: container.command,
        OpenStdin: container.stdin ?? false,
        StdinOnce: container.stdinOnce ?? false,
        Tty: container.tty ?? false,
        Labels: {
          ...container.labels,
          ...annotationLabels(container.annotations),
          "io.kubernetes.docker.type": "container",
          "io.kubernetes.sandbox.id": sandboxId,
          "io.kubernetes.container.logpath": logPath,
        },
        HostConfig: {
          NetworkMode: `container:${sandboxId}`,
          IpcMode: `container:${sandboxId}`,
          PidMode: `container:${sandboxId}`,
          LogConfig: { Type: "json-file", Config: {} },
          RestartPolicy: { Name: "no" },
          SecurityOpt: ["seccomp=unconfined"],
        },
      },
    );
    containers[container.name] = { id: Id, logPath };
    if (container.start === false) continue;
    await node.docker.startContainer(Id);
    // The kubelet made the directory; cri-dockerd links the file to the engine's log.
    await mkdir(join(pod.logDirectory, container.name), { recursive: true });
    await symlink((await node.docker.inspectContainer(Id)).LogPath, logPath);
  }
  return { sandboxId, ip, containers };
}

/** cri-dockerd's SetUpPod: loopback first, then the pod's network, both cached by libcni. */
async function attach(
  node: CriDockerdNode,
  pod: FixturePod,
  sandboxId: string,
  pid: number,
): Promise<string | undefined> {
  const netnsPath = `/proc/${pid}/ns/net`;
  const portMappings = (pod.portMappings ?? [])
    .filter((m) => m.hostPort > 0)
    .map((m) => ({ ...m, protocol: m.protocol.toLowerCase(), hostIP: "" }));
  const cniArgs: Array<[string, string]> = [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", pod.namespace],
    ["K8S_POD_NAME", pod.name],
    ["K8S_POD_INFRA_CONTAINER_ID", sandboxId],
  ];
  const capabilityArgs = { ipRanges: [[{ subnet: "" }]], portMappings };
  const scratch = await mkdtemp(join(tmpdir(), "berth-fixture-cni-"));
  let ip: string | undefined;
  try {
    // berth speaks no CNI 0.2.0, which cri-dockerd's loopback network declares: its plugin
    // is run here by hand, as libcni would.
    const { stdout } = await run(join(node.binDirs[0] ?? "/usr/lib/cni", "loopback"), [], {
      env: {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: sandboxId,
        CNI_NETNS: netnsPath,
        CNI_IFNAME: "eth0",
        CNI_PATH: node.binDirs.join(":"),
        CNI_ARGS: cniArgs.map(([k, v]) => `${k}=${v}`).join(";"),
      },
      input: JSON.stringify({ cniVersion: "0.2.0", name: "cni-loopback", type: "loopback" }),
    });
    await writeLibcniCacheEntry(node.cniCacheDir, {
      containerId: sandboxId,
      networkName: "cni-loopback",
      ifName: "eth0",
      config: LOOPBACK_CONFLIST,
      cniArgs,
      capabilityArgs,
      result: JSON.parse(stdout) as Record<string, unknown>,
    });
    const conflist = await readFile(node.conflistFile, "utf8");
    for (const [text, file] of [[conflist, node.conflistFile]] as const) {
      const network = new CniNetwork(parseNetworkConfig(text, file), {
        cacheDir: scratch,
        binDirs: node.binDirs,
        log,
      });
      const added = await network.add({
        containerId: sandboxId,
        netnsPath,
        podName: pod.name,
        podNamespace: pod.namespace,
        podUid: pod.uid,
        capabilities: { portMappings },
      });
      await writeLibcniCacheEntry(node.cniCacheDir, {
        containerId: sandboxId,
        networkName: network.name,
        ifName: "eth0",
        config: text,
        cniArgs,
        capabilityArgs,
        result: added.result,
      });
      ip = added.podIps[0];
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return ip;
}

/**
 * A failed test's cleanup: what cri-dockerd's RemovePodSandbox would do (CNI DEL through
 * libcni's cache, the checkpoint and the containers removed). Tolerates what is gone.
 */
export async function removeCriDockerdPod(node: CriDockerdNode, sandboxId: string): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "berth-fixture-cni-"));
  // In the pod's namespace while it lives: without one the bridge plugin leaves its NAT chain.
  const pause = await node.docker.findContainer(sandboxId);
  const netns = pause?.State.Pid ? `/proc/${pause.State.Pid}/ns/net` : "";
  try {
    for (const { path, entry } of await listLibcniCacheEntries(node.cniCacheDir, sandboxId)) {
      if (typeof entry === "string") continue;
      const berthEntry = toBerthCacheEntry(entry, path, netns);
      await writeCacheEntry(scratch, berthEntry);
      const network = new CniNetwork(parseNetworkConfig(entry.config, path), {
        cacheDir: scratch,
        binDirs: node.binDirs,
        log,
      });
      await network.del({
        containerId: sandboxId,
        netnsPath: netns,
        ifName: entry.ifName,
        podName: "",
        podNamespace: "",
        podUid: "",
      });
    }
    await removeLibcniCacheEntries(node.cniCacheDir, sandboxId);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await rm(criDockerdCheckpointPath(node.rootDir, sandboxId), { force: true });
  const members = await node.docker.listContainers({
    label: [`io.kubernetes.sandbox.id=${sandboxId}`],
  });
  for (const { Id } of [...members, { Id: sandboxId }]) {
    await node.docker.removeContainer(Id).catch(() => {});
  }
}
