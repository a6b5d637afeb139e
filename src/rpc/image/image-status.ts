import type { ImageService } from "../../gen/runtime/v1/api_pb.js";
import { ImageLookup } from "../../image/image-lookup.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * An absent image is not an error here: the CRI asks for an empty answer, which the kubelet
 * reads as "pull it".
 */
export function imageStatus(s: Services): ServiceHandlers<typeof ImageService>["imageStatus"] {
  return async (request, { signal }) => {
    const image = await s.images.find(ImageLookup.refOf(request.image, "ImageStatus"), signal);
    if (!image) return {};
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.info = JSON.stringify({
        id: image.Id,
        created: image.Created,
        architecture: image.Architecture,
        os: image.Os,
        config: image.Config,
        rootfs: image.RootFS,
      });
    }
    return { image: s.images.describe(image), info };
  };
}
