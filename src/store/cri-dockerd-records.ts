import { create } from "@bufbuild/protobuf";
import type { ContainerInspect } from "../docker/types.ts";
import {
  ContainerConfigSchema,
  KeyValueSchema,
  MountPropagation,
  NamespaceMode,
  PodSandboxConfigSchema,
  Protocol,
} from "../gen/runtime/v1/api_pb.js";
import { rfc3339ToNanos } from "../util/time.ts";
import type { CriDockerdPortMapping } from "./cri-dockerd-checkpoint.ts";
import { appliedOf, processStateOf } from "./from-docker.ts";
import type { ContainerRecord, SandboxRecord } from "./records.ts";

/**
 * What cri-dockerd (0.3 and 0.4, as dockershim before it) puts on the containers it creates,
 * and how it reads them back: core/docker_service.go's internal label keys, core/naming.go's
 * names, core/helpers.go's `annotation.` prefix. berth reports an adopted pod exactly as
 * cri-dockerd did, from these alone (cri-dockerd keeps nothing else about containers).
 */
export const CRI_DOCKERD_TYPE_LABEL = "io.kubernetes.docker.type";
export const CRI_DOCKERD_SANDBOX_ID_LABEL = "io.kubernetes.sandbox.id";
export const CRI_DOCKERD_LOG_PATH_LABEL = "io.kubernetes.container.logpath";
const CONTAINER_NAME_LABEL = "io.kubernetes.container.name";
const encoder = new TextEncoder();
const ANNOTATION_PREFIX = "annotation.";
const INTERNAL_LABELS = new Set([
  CRI_DOCKERD_TYPE_LABEL,
  CRI_DOCKERD_SANDBOX_ID_LABEL,
  CRI_DOCKERD_LOG_PATH_LABEL,
]);

export type CriDockerdKind = "podsandbox" | "container";

export function criDockerdKindOf(
  labels: Record<string, string> | null | undefined,
): CriDockerdKind | undefined {
  const kind = labels?.[CRI_DOCKERD_TYPE_LABEL];
  return kind === "podsandbox" || kind === "container" ? kind : undefined;
}

export interface CriDockerdName {
  /** "POD" for a sandbox. */
  container: string;
  pod: string;
  namespace: string;
  uid: string;
  attempt: number;
}

/**
 * k8s_<container>_<pod>_<namespace>_<uid>_<attempt>, with the random suffix cri-dockerd adds
 * when a name was taken (7 parts): undefined when the name is not of that shape. Kubernetes
 * names never hold "_", so splitting is unambiguous.
 */
export function parseCriDockerdName(dockerName: string): CriDockerdName | undefined {
  const parts = dockerName.replace(/^\//, "").split("_");
  if (parts.length !== 6 && parts.length !== 7) return undefined;
  const [prefix, container, pod, namespace, uid, attempt] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (prefix !== "k8s" || !/^\d+$/.test(attempt)) return undefined;
  const value = Number(attempt);
  if (value > 0xffff_ffff) return undefined;
  return { container, pod, namespace, uid, attempt: value };
}

/**
 * cri-dockerd's extractLabels: its internal labels dropped, `annotation.*` turned back into
 * annotations, the container-name label (which it adds to sandboxes too) hidden on sandboxes.
 */
export function splitCriDockerdLabels(labels: Record<string, string>): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const sandbox = labels[CRI_DOCKERD_TYPE_LABEL] === "podsandbox";
  const out: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (INTERNAL_LABELS.has(key)) continue;
    if (sandbox && key === CONTAINER_NAME_LABEL) continue;
    if (key.startsWith(ANNOTATION_PREFIX)) annotations[key.slice(ANNOTATION_PREFIX.length)] = value;
    else out[key] = value;
  }
  return { labels: out, annotations };
}

/** The kubelet's own pod log directory: cri-dockerd does not record the sandbox's. */
export function kubeletPodLogDirectory(name: CriDockerdName): string {
  return `/var/log/pods/${name.namespace}_${name.pod}_${name.uid}`;
}

const PROTOCOLS: Record<string, Protocol> = {
  tcp: Protocol.TCP,
  udp: Protocol.UDP,
  sctp: Protocol.SCTP,
};

/**
 * A cri-dockerd pause container as berth's sandbox record, with the port mappings and host
 * network of its checkpoint; undefined when it is not a cri-dockerd sandbox. The namespace
 * modes are the ones cri-dockerd reports (PID CONTAINER unless host), read from the engine.
 */
export function criDockerdSandboxOf(
  inspect: ContainerInspect,
  portMappings: CriDockerdPortMapping[],
): SandboxRecord | undefined {
  const dockerLabels = inspect.Config.Labels ?? {};
  if (criDockerdKindOf(dockerLabels) !== "podsandbox") return undefined;
  const name = parseCriDockerdName(inspect.Name);
  if (name?.container !== "POD") return undefined;
  const { labels, annotations } = splitCriDockerdLabels(dockerLabels);
  const host = (mode: string | undefined) => mode === "host";
  const config = create(PodSandboxConfigSchema, {
    metadata: { name: name.pod, namespace: name.namespace, uid: name.uid, attempt: name.attempt },
    hostname: inspect.Config.Hostname ?? "",
    logDirectory: kubeletPodLogDirectory(name),
    labels,
    annotations,
    portMappings: portMappings.map((mapping) => ({
      protocol: PROTOCOLS[mapping.protocol] ?? Protocol.TCP,
      containerPort: mapping.containerPort,
      hostPort: mapping.hostPort,
      hostIp: mapping.hostIP,
    })),
    linux: {
      cgroupParent: inspect.HostConfig.CgroupParent ?? "",
      securityContext: {
        namespaceOptions: {
          network: host(inspect.HostConfig.NetworkMode) ? NamespaceMode.NODE : NamespaceMode.POD,
          pid: host(inspect.HostConfig.PidMode) ? NamespaceMode.NODE : NamespaceMode.CONTAINER,
          ipc: host(inspect.HostConfig.IpcMode) ? NamespaceMode.NODE : NamespaceMode.POD,
        },
      },
    },
  });
  return {
    id: inspect.Id,
    name: inspect.Name.replace(/^\//, ""),
    config,
    runtimeHandler: "",
    createdAt: rfc3339ToNanos(inspect.Created),
    process: processStateOf(inspect),
    // berth's checkpoint of the adopted sandbox, filled in by DockerSync.
    network: undefined,
    criDockerd: true,
  };
}

const PROPAGATIONS: Record<string, MountPropagation> = {
  rshared: MountPropagation.PROPAGATION_BIDIRECTIONAL,
  rslave: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
};

/** A cri-dockerd application container as berth's record; undefined when it is not one. */
export function criDockerdContainerOf(inspect: ContainerInspect): ContainerRecord | undefined {
  const dockerLabels = inspect.Config.Labels ?? {};
  if (criDockerdKindOf(dockerLabels) !== "container") return undefined;
  const name = parseCriDockerdName(inspect.Name);
  const sandboxId = dockerLabels[CRI_DOCKERD_SANDBOX_ID_LABEL] ?? "";
  if (!name || name.container === "POD" || !/^[0-9a-f]{64}$/.test(sandboxId)) return undefined;
  const { labels, annotations } = splitCriDockerdLabels(dockerLabels);
  const logPath = dockerLabels[CRI_DOCKERD_LOG_PATH_LABEL] ?? "";
  const image = inspect.Config.Image ?? "";
  const config = create(ContainerConfigSchema, {
    metadata: { name: name.container, attempt: name.attempt },
    image: { image },
    command: inspect.Config.Entrypoint ?? [],
    args: inspect.Config.Cmd ?? [],
    workingDir: inspect.Config.WorkingDir ?? "",
    envs: (inspect.Config.Env ?? []).map((pair) => {
      const at = pair.indexOf("=");
      const key = at < 0 ? pair : pair.slice(0, at);
      return create(KeyValueSchema, {
        key,
        value: encoder.encode(at < 0 ? "" : pair.slice(at + 1)),
      });
    }),
    // The kubelet's relative path: <container>/<attempt>.log under the pod's log directory.
    logPath: logPath.split("/").slice(-2).join("/"),
    labels,
    annotations,
    mounts: inspect.Mounts.map((mount) => ({
      hostPath: mount.Source,
      containerPath: mount.Destination,
      readonly: !mount.RW,
      propagation: PROPAGATIONS[mount.Propagation] ?? MountPropagation.PROPAGATION_PRIVATE,
    })),
    stdin: inspect.Config.OpenStdin ?? false,
    stdinOnce: inspect.Config.StdinOnce ?? false,
    tty: inspect.Config.Tty ?? false,
  });
  return {
    id: inspect.Id,
    name: inspect.Name.replace(/^\//, ""),
    sandboxId,
    config,
    createdAt: rfc3339ToNanos(inspect.Created),
    imageId: inspect.Image,
    userImage: image,
    logPath,
    process: processStateOf(inspect),
    applied: appliedOf(inspect),
    criDockerd: true,
  };
}

/*
 * What berth reports of an adopted pod must not change at the switch: the kubelet copies it
 * into the pod's status (a container's imageID is ContainerStatus.image_ref) and keeps the
 * lists' times. So, for what cri-dockerd made and only for that, berth answers as cri-dockerd
 * (dockershim before it) did; berth's own containers are reported as containerd does, which
 * is what critest checks (image_id, Image.id and PullImage's image_ref agree: "sha256:<id>").
 */

/**
 * cri-dockerd's ListPodSandbox/ListContainers times: Docker's container list, whole seconds.
 * Its PodSandboxStatus/ContainerStatus carry the engine's nanoseconds, as berth's do.
 */
export function listedCreatedAt(record: { createdAt: bigint; criDockerd?: boolean }): bigint {
  if (!record.criDockerd) return record.createdAt;
  return (record.createdAt / 1_000_000_000n) * 1_000_000_000n;
}

/**
 * cri-dockerd's ContainerStatus image: the image's first tag, whatever name the container was
 * created with (its ListContainers answers that name); the kubelet shows it as the pod
 * status' `image`.
 */
export function criDockerdStatusImage(configImage: string, repoTags: string[] | undefined): string {
  return repoTags?.[0] ?? configImage;
}

/**
 * cri-dockerd's ContainerStatus.image_ref: `docker-pullable://<repo digest>` when the image
 * has one, else `docker://<image id>` (its ListContainers answers the bare image ID).
 */
export function criDockerdStatusImageRef(imageId: string, repoDigest: string | undefined): string {
  return repoDigest ? `docker-pullable://${repoDigest}` : `docker://${imageId}`;
}
