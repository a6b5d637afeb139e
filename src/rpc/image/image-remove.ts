import { removedUnlessPresent } from "../../docker/errors.ts";
import { failedPrecondition } from "../../errors.ts";
import type { ImageService } from "../../gen/runtime/v1/api_pb.js";
import { ImageLookup } from "../../image/image-lookup.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * Removes the image itself, with every tag and digest: Docker's delete by tag only untags,
 * which would leave the kubelet's image GC freeing nothing. Removing an absent image
 * succeeds, as the CRI requires of RemoveImage, and so does a removal that lost a race with
 * another one: calls for one image (by any of its names) run one after another, and a
 * removal the engine refused counts as done when the image is gone afterwards.
 */
export function imageRemove(s: Services): ServiceHandlers<typeof ImageService>["removeImage"] {
  return async (request, { signal }) => {
    const found = await s.images.find(ImageLookup.refOf(request.image, "RemoveImage"), signal);
    if (!found) return {};
    await s.imageLocks.run(found.Id, async () => {
      const image = await s.docker.findImage(found.Id, signal);
      if (!image) return;
      const users = await s.docker.listContainers({ ancestor: [image.Id] }, signal);
      const user = users[0];
      if (user) {
        const name = user.Names[0]?.replace(/^\//, "") ?? user.Id;
        throw failedPrecondition(
          `image ${request.image?.image} (${image.Id}) is in use by container ${name} (${user.Id.slice(0, 12)}, ${user.State}); remove the container first`,
        );
      }
      // force: remove every tag at once; no container uses the image (checked above).
      await removedUnlessPresent(
        s.docker.removeImage(image.Id, true, signal),
        async () => (await s.docker.findImage(image.Id, signal)) !== undefined,
      );
    });
    return {};
  };
}
