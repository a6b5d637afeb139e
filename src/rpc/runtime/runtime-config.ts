import { failedPrecondition } from "../../errors.ts";
import { CgroupDriver, type RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * The enum's zero value means systemd, so an engine on cgroupfs must be named explicitly:
 * a kubelet told "systemd" by mistake places pods where the engine never looks.
 */
export function cgroupDriverOf(engineDriver: string): CgroupDriver {
  switch (engineDriver) {
    case "systemd":
      return CgroupDriver.SYSTEMD;
    case "cgroupfs":
      return CgroupDriver.CGROUPFS;
    default:
      throw failedPrecondition(`Docker Engine reports an unknown cgroup driver "${engineDriver}"`);
  }
}

export function runtimeConfig(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["runtimeConfig"] {
  return async (_request, { signal }) => {
    const facts = await s.engine.get(signal);
    return { linux: { cgroupDriver: cgroupDriverOf(facts.info.CgroupDriver) } };
  };
}
