import { existsSync } from "node:fs";
import { join } from "node:path";
import { toJsonString } from "@bufbuild/protobuf";
import { DockerError } from "../../docker/errors.ts";
import {
  BerthError,
  failedPrecondition,
  invalidArgument,
  messageOf,
  unavailable,
} from "../../errors.ts";
import {
  NamespaceMode,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
  PodSandboxState,
  type RuntimeService,
} from "../../gen/runtime/v1/api_pb.js";
import { parseImageRef } from "../../image/reference.ts";
import { bandwidthOf, hostPortMappings } from "../../network/pod-network-config.ts";
import { readProfiles } from "../../runtime/profiles.ts";
import { DEFAULT_HANDLER } from "../../runtime/runtime-handlers.ts";
import { sandboxState } from "../../runtime/sandbox-convert.ts";
import { buildSandboxCreateBody } from "../../runtime/sandbox-create-spec.ts";
import { profileFilesNeeded } from "../../runtime/security-spec.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import {
  berthLabels,
  kubernetesLabels,
  LABEL_CONFIG,
  LABEL_RUNTIME_HANDLER,
  sandboxContainerName,
} from "../../store/labels.ts";
import type { SandboxRecord } from "../../store/records.ts";
import type { SandboxNetworkState } from "../../store/sandbox-checkpoint.ts";
import { ensureSpaceIn } from "../../util/disk-space.ts";
import type { Services } from "../services.ts";
import { removeSandbox, sandboxLockKey } from "./sandbox-lifecycle.ts";

/** Rollback of a failed RunPodSandbox must finish even when the caller's deadline passed. */
const ROLLBACK_TIMEOUT_MS = 60_000;

export function sandboxRun(s: Services): ServiceHandlers<typeof RuntimeService>["runPodSandbox"] {
  return async (request, { signal }) => {
    const config = request.config;
    const meta = config?.metadata;
    if (!config || !meta) throw invalidArgument("config.metadata is required");
    if (meta.name === "" || meta.namespace === "" || meta.uid === "") {
      throw invalidArgument("config.metadata needs name, namespace and uid");
    }
    const dockerRuntime = await dockerRuntimeOf(s, request.runtimeHandler, signal);
    const name = sandboxContainerName(meta);

    // One RunPodSandbox per pod name at a time: a kubelet retry after a timeout waits for the
    // first attempt and then gets its sandbox instead of a duplicate.
    return s.sandboxLocks.run(sandboxLockKey(name), async () => {
      const existing = findByName(s, name);
      if (existing) {
        if (sandboxState(existing) === PodSandboxState.SANDBOX_READY) {
          s.log.info({ sandbox: existing.id, name }, "RunPodSandbox retried: existing sandbox");
          return { podSandboxId: existing.id };
        }
        // Half made or stopped with the same attempt: make room for a fresh one.
        await removeSandbox(s, existing, signal);
      }
      try {
        const id = await create(s, config, name, request.runtimeHandler, dockerRuntime, signal);
        return { podSandboxId: id };
      } catch (err) {
        if (!(err instanceof NameInUse)) throw err;
      }
      // The name is taken by a pause container berth never heard of: an earlier attempt's
      // create went through but its answer was lost (the engine restarted). Learn of it, then
      // answer it when it is ready, or replace it.
      await s.sync.refresh(name, signal);
      const leftover = findByName(s, name);
      if (!leftover)
        throw failedPrecondition(`the name ${name} is taken by a container berth does not manage`);
      if (sandboxState(leftover) === PodSandboxState.SANDBOX_READY)
        return { podSandboxId: leftover.id };
      await removeSandbox(s, leftover, signal);
      const id = await create(s, config, name, request.runtimeHandler, dockerRuntime, signal);
      return { podSandboxId: id };
    });
  };
}

async function create(
  s: Services,
  config: PodSandboxConfig,
  name: string,
  runtimeHandler: string,
  dockerRuntime: string | undefined,
  signal: AbortSignal,
): Promise<string> {
  const meta = config.metadata;
  if (!meta) throw invalidArgument("config.metadata is required");
  // The checkpoint must be written before the sandbox may exist: a full disk fails here.
  await ensureSpaceIn(join(s.config.rootDir, "sandboxes"), "the sandbox checkpoint");
  await ensurePauseImage(s, signal);
  const hostLimits = await s.hostLimits();
  const labels = berthLabels({
    kind: "sandbox",
    instance: s.instance,
    configJson: toJsonString(PodSandboxConfigSchema, config),
    criLabels: config.labels,
    extra: {
      ...kubernetesLabels({ name: meta.name, namespace: meta.namespace, uid: meta.uid }),
      [LABEL_RUNTIME_HANDLER]: runtimeHandler,
    },
  });
  const body = buildSandboxCreateBody({
    config,
    image: s.config.podInfraContainerImage,
    runtime: dockerRuntime,
    labels,
    limits: hostLimits,
    localhostProfiles: await readProfiles(profileFilesNeeded(config)),
  });
  const portMappings = hostPortMappings(config);
  const hostNetwork =
    config.linux?.securityContext?.namespaceOptions?.network === NamespaceMode.NODE;

  let id: string | undefined;
  try {
    id = await s.docker.createContainer(name, body, signal).then(
      (created) => created.Id,
      (err: unknown) => {
        throw err instanceof DockerError && err.statusCode === 409 ? new NameInUse(err) : err;
      },
    );
    // The pod's DNS config goes to the engine (Dns, DnsSearch, DnsOptions), which writes the
    // pause container's resolv.conf; containers joining its network share that file.
    await s.sync.refresh(id, signal);
    await s.docker.startContainer(id, signal);
    const started = await s.sync.refresh(id, signal);
    if (started?.kind !== "sandbox" || started.record.process.status !== "running") {
      throw pauseStopped(id, "it exited right after its start");
    }
    let netnsPath = "";
    if (!hostNetwork) {
      try {
        netnsPath = await s.netns.pin(id, started.record.process.pid);
      } catch (err) {
        // Its namespace is gone when the pause process died meanwhile (the engine stopping);
        // a process that died but is not reaped yet keeps its /proc entry, not its namespaces.
        if (!existsSync(`/proc/${started.record.process.pid}/ns/net`)) {
          throw pauseStopped(id, messageOf(err), err);
        }
        throw err;
      }
    }
    const state: SandboxNetworkState = {
      netnsPath,
      hostNetwork,
      cniNetwork: undefined,
      ifName: "eth0",
      ips: [],
      portMappings,
      podName: meta.name,
      podNamespace: meta.namespace,
      podUid: meta.uid,
      sandbox: {
        name,
        configJson: labels[LABEL_CONFIG] ?? "",
        runtimeHandler,
        createdAt: started.record.createdAt.toString(),
      },
      // Written before CNI ADD: if berth dies during it, teardown still runs later.
      attached: !hostNetwork,
      ready: hostNetwork,
    };
    await s.sync.saveNetwork(id, state);
    if (!hostNetwork) {
      const result = await s.podNetwork.attach(
        {
          sandboxId: id,
          netnsPath: state.netnsPath,
          podName: meta.name,
          podNamespace: meta.namespace,
          podUid: meta.uid,
          portMappings,
          dns: config.dnsConfig,
          bandwidth: bandwidthOf(config.annotations),
        },
        signal,
      );
      await s.sync.saveNetwork(id, {
        ...state,
        cniNetwork: result.network,
        ifName: result.ifName,
        ips: result.ips,
        ready: true,
      });
    }
    s.log.info({ sandbox: id, name, hostNetwork }, "pod sandbox ready");
    return id;
  } catch (err) {
    if (id) await rollback(s, id, err);
    throw err;
  }
}

async function rollback(s: Services, id: string, cause: unknown): Promise<void> {
  const signal = AbortSignal.timeout(ROLLBACK_TIMEOUT_MS);
  try {
    const entry = await s.sync.refresh(id, signal);
    const record: SandboxRecord | undefined = entry?.kind === "sandbox" ? entry.record : undefined;
    if (record) {
      await removeSandbox(s, record, signal);
    } else {
      await s.docker.removeContainer(id, signal).catch(() => {});
      await s.sync.forget(id);
    }
    s.log.warn({ sandbox: id, cause: messageOf(cause) }, "RunPodSandbox failed; rolled back");
  } catch (err) {
    s.log.error({ sandbox: id, err: messageOf(err) }, "rollback of a failed sandbox failed");
  }
}

/** The engine refused to create the pause container: its name is taken. */
class NameInUse extends BerthError {
  constructor(cause: DockerError) {
    super("AlreadyExists", cause.message, { cause });
  }
}

/**
 * The pause container died while its sandbox was set up: the engine stopping or restarting
 * is what does that, and the kubelet's retry makes a fresh sandbox.
 */
function pauseStopped(id: string, why: string, cause?: unknown) {
  return unavailable(`pause container ${id} stopped while its sandbox was set up: ${why}`, cause);
}

function findByName(s: Services, name: string): SandboxRecord | undefined {
  for (const sandbox of s.store.sandboxes()) if (sandbox.name === name) return sandbox;
  return undefined;
}

/** The pause image is pulled when absent (never on the hot path: only at sandbox creation). */
async function ensurePauseImage(s: Services, signal: AbortSignal): Promise<void> {
  const ref = parseImageRef(s.config.podInfraContainerImage);
  if (await s.images.find(ref, signal)) return;
  try {
    await s.puller.pull(ref, undefined, signal);
  } catch (err) {
    throw failedPrecondition(
      `pause image ${s.config.podInfraContainerImage} is absent and could not be pulled (${messageOf(err)}); run berth's setup (npm start) to build it locally`,
    );
  }
}

/** The Docker runtime for a CRI runtime handler; unknown non-empty handlers are refused. */
async function dockerRuntimeOf(
  s: Services,
  handler: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (handler === DEFAULT_HANDLER) return undefined;
  const facts = await s.engine.get(signal);
  if (!Object.hasOwn(facts.info.Runtimes ?? {}, handler)) {
    const known = Object.keys(facts.info.Runtimes ?? {}).join(", ");
    throw invalidArgument(`runtime_handler "${handler}" is unknown (known: "", ${known})`);
  }
  return handler;
}
