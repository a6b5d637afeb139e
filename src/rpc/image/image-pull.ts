import type { ImageService } from "../../gen/runtime/v1/api_pb.js";
import { ImageLookup } from "../../image/image-lookup.ts";
import { registryAuthOf } from "../../image/registry-auth.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * Answers the Docker image ID as image_ref, whichever tag or digest was pulled: the kubelet
 * matches it against Image.id and against the image_id of containers.
 */
export function imagePull(s: Services): ServiceHandlers<typeof ImageService>["pullImage"] {
  return async (request, { signal }) => {
    const ref = ImageLookup.refOf(request.image, "PullImage");
    const imageRef = await s.puller.pull(ref, registryAuthOf(request.auth), signal);
    return { imageRef };
  };
}
