import { dirname, isAbsolute, join } from "node:path";
import { toJsonString } from "@bufbuild/protobuf";
import { DockerError, ignoreNotFound } from "../../docker/errors.ts";
import {
  BerthError,
  failedPrecondition,
  invalidArgument,
  messageOf,
  notFound,
} from "../../errors.ts";
import {
  ContainerConfigSchema,
  type RuntimeService,
  SupplementalGroupsPolicy,
} from "../../gen/runtime/v1/api_pb.js";
import { ImageLookup } from "../../image/image-lookup.ts";
import { imageAccounts } from "../../runtime/container-accounts.ts";
import { buildContainerCreateBody } from "../../runtime/container-create-spec.ts";
import { strictUser } from "../../runtime/container-identity.ts";
import { readProfiles } from "../../runtime/profiles.ts";
import { profileFilesNeeded } from "../../runtime/security-spec.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import {
  appContainerName,
  berthLabels,
  kubernetesLabels,
  LABEL_INSTANCE,
  LABEL_LOG_PATH,
  LABEL_SANDBOX_ID,
  LABEL_USER_IMAGE,
} from "../../store/labels.ts";
import { ensureSpaceIn } from "../../util/disk-space.ts";
import type { Services } from "../services.ts";

/**
 * Gathers the inputs (sandbox, image, host limits, profiles), lets the pure builder make the
 * Docker body, and creates the container. Nothing is left behind when creation fails: the
 * log file is only opened at start.
 */
export function containerCreate(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["createContainer"] {
  return async (request, { signal }) => {
    const config = request.config;
    if (request.podSandboxId === "") throw invalidArgument("pod_sandbox_id is empty");
    if (!config?.metadata || config.metadata.name === "") {
      throw invalidArgument("config.metadata.name is required");
    }
    const sandbox = s.store.requireSandbox(request.podSandboxId);
    if (sandbox.process.status !== "running") {
      throw failedPrecondition(`pod sandbox ${sandbox.id} is not running`);
    }
    const sandboxConfig = request.sandboxConfig?.metadata ? request.sandboxConfig : sandbox.config;
    const podMeta = sandbox.config.metadata;
    if (!podMeta) throw failedPrecondition(`pod sandbox ${sandbox.id} has no metadata`);

    const image = await s.images.find(ImageLookup.refOf(config.image, "CreateContainer"), signal);
    if (!image) {
      throw notFound(`image ${config.image?.image} is not present: pull it first`);
    }
    const targetId = config.linux?.securityContext?.namespaceOptions?.targetId ?? "";
    const target = targetId === "" ? undefined : s.store.container(targetId);
    if (targetId !== "" && !target) {
      throw notFound(
        `linux.security_context.namespace_options.target_id: container ${targetId} not found`,
      );
    }

    const logPath = criLogPath(sandbox.config.logDirectory, config.logPath);
    // The log file is opened at start; a log directory out of space fails the create already.
    if (logPath !== "") await ensureSpaceIn(dirname(logPath), "the container log");
    const name = appContainerName(config.metadata, podMeta);
    const labels = berthLabels({
      kind: "container",
      instance: s.instance,
      configJson: toJsonString(ContainerConfigSchema, config),
      criLabels: config.labels,
      extra: {
        ...kubernetesLabels({
          name: podMeta.name,
          namespace: podMeta.namespace,
          uid: podMeta.uid,
          container: config.metadata.name,
        }),
        [LABEL_SANDBOX_ID]: sandbox.id,
        [LABEL_LOG_PATH]: logPath,
        [LABEL_USER_IMAGE]: config.image?.userSpecifiedImage || config.image?.image || "",
      },
    });
    const { body, warnings } = buildContainerCreateBody({
      config,
      sandboxConfig,
      sandboxId: sandbox.id,
      targetContainerId: target?.id,
      image: { id: image.Id, config: image.Config },
      runtime: sandbox.runtimeHandler === "" ? undefined : sandbox.runtimeHandler,
      labels,
      logConfig: s.logs.dockerLogConfig,
      limits: await s.hostLimits(),
      localhostProfiles: await readProfiles(profileFilesNeeded(config)),
    });
    for (const warning of warnings) s.log.warn({ container: name }, warning);
    if (
      config.linux?.securityContext?.supplementalGroupsPolicy === SupplementalGroupsPolicy.Strict
    ) {
      // Strict: the user with an explicit group, so the engine adds no /etc/group membership.
      const { passwd } = await imageAccounts(s.docker, image.Id, signal);
      body.User = strictUser(body.User ?? image.Config?.User ?? "", passwd);
    }

    let id: string;
    try {
      id = (await s.docker.createContainer(name, body, signal)).Id;
    } catch (err) {
      if (!(err instanceof DockerError && err.statusCode === 409)) throw err;
      // A retry of a create whose answer was lost (the engine restarted, the call timed out)
      // finds its own never-started container under the name: that one is replaced, as
      // dockershim did. Anything else holding the name is a real conflict.
      const holder = await s.docker.findContainer(name, signal);
      const leftover =
        holder?.State.Status === "created" &&
        holder.Config.Labels?.[LABEL_INSTANCE] === s.instance &&
        holder.Config.Labels?.[LABEL_SANDBOX_ID] === sandbox.id;
      if (!holder || !leftover) {
        throw new BerthError(
          "AlreadyExists",
          `container name ${name} is in use: ${messageOf(err)}`,
        );
      }
      s.log.info(
        { container: holder.Id, name },
        "CreateContainer retried: replacing the never-started container of the first attempt",
      );
      await ignoreNotFound(s.docker.removeContainer(holder.Id, signal));
      await s.sync.refresh(holder.Id, signal);
      id = (await s.docker.createContainer(name, body, signal)).Id;
    }
    try {
      await s.sync.refresh(id, signal);
    } catch (err) {
      await s.docker.removeContainer(id).catch(() => {});
      throw err;
    }
    return { containerId: id };
  };
}

/** The kubelet's log file: the sandbox's log directory joined with the container's path. */
export function criLogPath(logDirectory: string, logPath: string): string {
  if (logDirectory === "" || logPath === "") return "";
  if (!isAbsolute(logDirectory)) {
    throw invalidArgument(`sandbox log_directory "${logDirectory}" must be absolute`);
  }
  const joined = join(logDirectory, logPath);
  if (!joined.startsWith(`${logDirectory.replace(/\/+$/, "")}/`)) {
    throw invalidArgument(`log_path "${logPath}" must stay inside the sandbox's log directory`);
  }
  return joined;
}
