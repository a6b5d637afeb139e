import { invalidArgument } from "../../errors.ts";
import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { parseCidr } from "../../network/cidr.ts";
import { berthNetworkCidrDiffers, writeBerthNetwork } from "../../network/default-network.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/** The kubelet sends the node's pod CIDR here; berth keeps it for the default CNI network. */
export function updateRuntimeConfig(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["updateRuntimeConfig"] {
  return async (request) => {
    const cidr = request.runtimeConfig?.networkConfig?.podCidr ?? "";
    // An empty CIDR is what the kubelet sends before the node has one: keep what we know.
    if (cidr === "") return {};
    for (const part of cidr.split(",")) {
      if (!parseCidr(part.trim())) {
        throw invalidArgument(`pod_cidr "${cidr}" is not a CIDR (expected e.g. 10.88.0.0/16)`);
      }
    }
    await s.settings.setPodCidr(cidr);
    s.log.info({ podCidr: cidr }, "pod CIDR updated");
    // berth's own default network follows the node's pod CIDR (a user's config never changes).
    if (s.config.defaultNetwork && (await berthNetworkCidrDiffers(s.config.cniConfDir, cidr))) {
      const file = await writeBerthNetwork(s.config.cniConfDir, cidr);
      s.podNetwork.invalidate();
      s.log.info({ file, podCidr: cidr }, "berth's default CNI network now uses the pod CIDR");
    }
    return {};
  };
}
