import type { ImageService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { ImageLookup } from "./image-lookup.ts";
import { registryAuthOf } from "./registry-auth.ts";

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
