import { messageOf } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { runtimeHandlers } from "../../runtime/runtime-handlers.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { RUNTIME_NAME } from "./version.ts";

const PING_TIMEOUT_MS = 2_000;

/**
 * RuntimeReady follows the engine live (a ping at most every second, so a restarted dockerd
 * is seen without restarting berth); NetworkReady follows the CNI config directory.
 */
export function status(s: Services): ServiceHandlers<typeof RuntimeService>["status"] {
  const ping = enginePinger(s);
  return async (request, { signal }) => {
    const engine = await engineCondition(s, ping);
    const network = await s.podNetwork.status();
    const facts = engine.status ? await s.engine.get(signal).catch(() => undefined) : undefined;
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.config = JSON.stringify({
        runtimeName: RUNTIME_NAME,
        listen: s.config.listen,
        dockerHost: s.config.dockerHost,
        podInfraContainerImage: s.config.podInfraContainerImage,
        imagePullProgressDeadlineMs: s.config.imagePullProgressDeadlineMs,
        rootDir: s.config.rootDir,
        cniConfDir: s.config.cniConfDir,
        cniBinDirs: s.config.cniBinDirs,
        podCidr: s.settings.podCidr ?? null,
        network: network.ready ? network.network : null,
      });
      if (facts) {
        info.engine = JSON.stringify({
          version: facts.version.Version,
          apiVersion: facts.apiVersion,
          kernelVersion: facts.info.KernelVersion,
          cgroupDriver: facts.info.CgroupDriver,
          cgroupVersion: facts.info.CgroupVersion ?? "1",
          storageDriver: facts.info.Driver,
          dockerRootDir: facts.info.DockerRootDir,
        });
      }
    }
    return {
      status: {
        conditions: [
          engine,
          network.ready
            ? { type: "NetworkReady", status: true }
            : {
                type: "NetworkReady",
                status: false,
                reason: "NetworkPluginNotReady",
                message: `network plugin is not ready: ${network.reason}`,
              },
        ],
      },
      info,
      runtimeHandlers: facts ? runtimeHandlers(facts) : [],
      features: {
        // Both policies, on every engine berth serves (seen on Docker 20.10): a `User`
        // without a group gets the image's /etc/group memberships (Merge), "uid:gid" only
        // its group (Strict; container-create.ts adds the group). Unknown while the engine
        // has not answered.
        supplementalGroupsPolicy: facts !== undefined,
        // Docker cannot run user namespaces with host networking.
        userNamespacesHostNetwork: false,
      },
    };
  };
}

/**
 * The engine's health, pinged at most once a second: the kubelet calls Status constantly,
 * and a second is well within how soon it needs to see the engine go or come back.
 */
const PING_CACHE_MS = 1_000;

/** Answers undefined when the engine answers, else why not. */
function enginePinger(s: Services): () => Promise<string | undefined> {
  let last: { at: number; outcome: Promise<string | undefined> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > PING_CACHE_MS) {
      const outcome = s.docker.ping(AbortSignal.timeout(PING_TIMEOUT_MS)).then(
        () => undefined,
        (err: unknown) => {
          s.engine.invalidate();
          return messageOf(err);
        },
      );
      last = { at: now, outcome };
    }
    return last.outcome;
  };
}

async function engineCondition(s: Services, ping: () => Promise<string | undefined>) {
  const failure = await ping();
  if (failure === undefined) return { type: "RuntimeReady", status: true, reason: "", message: "" };
  return {
    type: "RuntimeReady",
    status: false,
    reason: "DockerDaemonNotReady",
    message: `Docker Engine at ${s.config.dockerHost} is not answering: ${failure}`,
  };
}
