import { create } from "@bufbuild/protobuf";
import {
  type ContainerConfig,
  ContainerConfigSchema,
  NamespaceMode,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
} from "../../src/gen/runtime/v1/api_pb.js";

/** CRI configs for handler tests: the fields the kubelet always sets, and nothing else. */

export function podConfig(
  name: string,
  options: { attempt?: number; hostNetwork?: boolean; logDirectory?: string } = {},
): PodSandboxConfig {
  return create(PodSandboxConfigSchema, {
    metadata: { name, namespace: "default", uid: `uid-${name}`, attempt: options.attempt ?? 0 },
    hostname: name,
    logDirectory: options.logDirectory ?? "",
    labels: { app: name },
    linux: options.hostNetwork
      ? { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } }
      : {},
  });
}

export function containerConfig(
  name: string,
  image: string,
  options: { attempt?: number } = {},
): ContainerConfig {
  return create(ContainerConfigSchema, {
    metadata: { name, attempt: options.attempt ?? 0 },
    image: { image },
    command: ["sleep", "3600"],
    labels: { container: name },
  });
}
