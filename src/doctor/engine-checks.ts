import { MAX_API_VERSION, MIN_API_VERSION } from "../docker/api-version.ts";
import type { DockerEngine } from "../docker/engine.ts";
import { messageOf } from "../errors.ts";
import type { CheckResult } from "./check.ts";

const ENGINE_TIMEOUT_MS = 5_000;
const REGISTRY_TIMEOUT_MS = 10_000;

export type EngineFacts =
  | { reachable: false; endpoint: string; error: string }
  | { reachable: true; endpoint: string; unsupported: string }
  | {
      reachable: true;
      endpoint: string;
      unsupported?: undefined;
      version: string;
      /** The engine's own API version (berth speaks min(this, MAX_API_VERSION)). */
      engineApi: string;
      negotiatedApi: string;
      cgroupDriver: string;
      cgroupVersion: string;
    };

export type PauseImageFacts =
  | { image: string; present: true; id: string }
  | { image: string; present: false; pullable: true }
  | { image: string; present: false; pullable: false; error: string };

export async function gatherEngineFacts(
  docker: DockerEngine,
  endpoint: string,
): Promise<EngineFacts> {
  try {
    await docker.ping(AbortSignal.timeout(ENGINE_TIMEOUT_MS));
  } catch (err) {
    return { reachable: false, endpoint, error: messageOf(err) };
  }
  let negotiatedApi: string;
  try {
    negotiatedApi = await docker.apiVersion(AbortSignal.timeout(ENGINE_TIMEOUT_MS));
  } catch (err) {
    return { reachable: true, endpoint, unsupported: messageOf(err) };
  }
  const signal = AbortSignal.timeout(ENGINE_TIMEOUT_MS);
  const [version, info] = await Promise.all([docker.version(signal), docker.info(signal)]);
  return {
    reachable: true,
    endpoint,
    version: version.Version,
    engineApi: version.ApiVersion,
    negotiatedApi,
    cgroupDriver: info.CgroupDriver ?? "cgroupfs",
    cgroupVersion: info.CgroupVersion ?? "1",
  };
}

/**
 * Whether the engine has the pause image, and if not whether its registry serves it: the
 * engine asks the registry for the manifest (GET /distribution/{name}/json), as a pull would.
 */
export async function gatherPauseImageFacts(
  docker: DockerEngine,
  image: string,
): Promise<PauseImageFacts> {
  const found = await docker.findImage(image, AbortSignal.timeout(ENGINE_TIMEOUT_MS));
  if (found) return { image, present: true, id: found.Id };
  try {
    await docker.inspectDistribution(image, AbortSignal.timeout(REGISTRY_TIMEOUT_MS));
    return { image, present: false, pullable: true };
  } catch (err) {
    return { image, present: false, pullable: false, error: messageOf(err) };
  }
}

export function evaluateEngine(facts: EngineFacts): CheckResult {
  if (!facts.reachable) {
    return {
      name: "engine",
      status: "fail",
      detail: `no Docker Engine answers at ${facts.endpoint}: ${facts.error}`,
      fix: "start the engine (systemctl start docker, or dockerd), or point --docker-endpoint (or $DOCKER_HOST) at it",
    };
  }
  if (facts.unsupported !== undefined) {
    return {
      name: "engine",
      status: "fail",
      detail: `the engine at ${facts.endpoint} answers, but ${facts.unsupported}`,
      fix: `upgrade Docker Engine to 20.10 or newer (API ${MIN_API_VERSION} or newer)`,
    };
  }
  const capped = facts.negotiatedApi !== facts.engineApi;
  return {
    name: "engine",
    status: "ok",
    detail:
      `Docker Engine ${facts.version} at ${facts.endpoint}, API ${facts.engineApi}` +
      (capped
        ? `; berth speaks API ${facts.negotiatedApi}, the newest it knows`
        : ` (berth speaks ${MIN_API_VERSION} to ${MAX_API_VERSION})`),
  };
}

/** Runs under systemd as PID 1 or not: decides which cgroup driver Kubernetes recommends. */
export function evaluateCgroups(
  facts: Extract<EngineFacts, { version: string }>,
  systemdIsInit: boolean,
): CheckResult {
  const driver = facts.cgroupDriver;
  const kubelet = `set the kubelet's cgroupDriver to ${driver} (berth reports it in RuntimeConfig)`;
  if (systemdIsInit && driver === "cgroupfs") {
    return {
      name: "cgroups",
      status: "warn",
      detail: `cgroup v${facts.cgroupVersion}, driver cgroupfs while systemd is init: two managers of one cgroup tree`,
      fix: 'set "exec-opts": ["native.cgroupdriver=systemd"] in /etc/docker/daemon.json, restart the engine, and set the kubelet\'s cgroupDriver to systemd',
    };
  }
  if (facts.cgroupVersion === "1") {
    return {
      name: "cgroups",
      status: "warn",
      detail: `cgroup v1, driver ${driver}: Kubernetes keeps cgroup v1 in maintenance mode, and recent kubelets refuse it unless failCgroupV1 is false; ${kubelet}`,
      fix: "boot the node with the unified hierarchy (cgroup v2: systemd.unified_cgroup_hierarchy=1 on older distributions)",
    };
  }
  return { name: "cgroups", status: "ok", detail: `cgroup v2, driver ${driver}: ${kubelet}` };
}

export function evaluatePauseImage(facts: PauseImageFacts): CheckResult {
  if (facts.present) {
    return {
      name: "pause-image",
      status: "ok",
      detail: `${facts.image} is on the engine (${facts.id.replace(/^sha256:/, "").slice(0, 12)})`,
    };
  }
  if (facts.pullable) {
    return {
      name: "pause-image",
      status: "warn",
      detail: `${facts.image} is not on the engine; its registry serves it, so the first RunPodSandbox pulls it`,
      fix: `docker pull ${facts.image}, so the first pod does not wait for the pull`,
    };
  }
  return {
    name: "pause-image",
    status: "fail",
    detail: `${facts.image} is not on the engine, and its registry cannot serve it: ${facts.error}`,
    fix: `docker pull or docker load ${facts.image} (npm start builds berth's own pause image when no registry serves one), or name an image the engine has with --pod-infra-container-image`,
  };
}
