import { randomUUID } from "node:crypto";
import type { DockerEngine } from "../docker/engine.ts";
import type { AccountFiles } from "./container-identity.ts";

/** /etc/passwd and /etc/group of a container (created, running or exited). */
export async function containerAccounts(
  docker: DockerEngine,
  containerId: string,
  signal: AbortSignal,
): Promise<AccountFiles> {
  const [passwd, group] = await Promise.all([
    docker.readContainerFile(containerId, "/etc/passwd", signal),
    docker.readContainerFile(containerId, "/etc/group", signal),
  ]);
  return { passwd: passwd?.toString("utf8") ?? "", group: group?.toString("utf8") ?? "" };
}

/**
 * /etc/passwd and /etc/group of an image, read from a container created for it and never
 * started (the engine's API reads files of containers only), removed again at once.
 */
export async function imageAccounts(
  docker: DockerEngine,
  imageId: string,
  signal: AbortSignal,
): Promise<AccountFiles> {
  const { Id } = await docker.createContainer(
    `berth-accounts-${randomUUID()}`,
    // Never started: the entrypoint only has to satisfy an image without a command.
    { Image: imageId, Entrypoint: ["/"], NetworkDisabled: true },
    signal,
  );
  try {
    return await containerAccounts(docker, Id, signal);
  } finally {
    await docker.removeContainer(Id).catch(() => {});
  }
}
