import { messageOf } from "../errors.ts";
import type { RuntimeService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { runtimeHandlers } from "./runtime-handlers.ts";
import { RUNTIME_NAME } from "./version.ts";

const PING_TIMEOUT_MS = 2_000;

/**
 * RuntimeReady follows the engine live (a ping per call, so a restarted dockerd is seen at
 * once without restarting berth); NetworkReady follows the CNI config directory.
 */
export function status(s: Services): ServiceHandlers<typeof RuntimeService>["status"] {
  return async (request, { signal }) => {
    const engine = await engineCondition(s, signal);
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
      // Docker cannot apply the Strict supplemental groups policy, nor user namespaces
      // with host networking.
      features: { supplementalGroupsPolicy: false, userNamespacesHostNetwork: false },
    };
  };
}

async function engineCondition(s: Services, signal: AbortSignal) {
  try {
    await s.docker.ping(AbortSignal.any([signal, AbortSignal.timeout(PING_TIMEOUT_MS)]));
    return { type: "RuntimeReady", status: true, reason: "", message: "" };
  } catch (err) {
    if (signal.aborted) throw err;
    s.engine.invalidate();
    return {
      type: "RuntimeReady",
      status: false,
      reason: "DockerDaemonNotReady",
      message: `Docker Engine at ${s.config.dockerHost} is not answering: ${messageOf(err)}`,
    };
  }
}
