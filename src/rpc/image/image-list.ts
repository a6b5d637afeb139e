import type { ImageFilter, ImageService } from "../../gen/runtime/v1/api_pb.js";
import type { CriImageInit } from "../../image/image-convert.ts";
import { ImageLookup } from "../../image/image-lookup.ts";
import { repositoryOf, tryParseImageRef } from "../../image/reference.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { sendInPages } from "../stream-pages.ts";

async function listImages(
  s: Services,
  filter: ImageFilter | undefined,
  signal: AbortSignal,
): Promise<CriImageInit[]> {
  if (filter?.image && filter.image.image !== "") {
    const ref = ImageLookup.refOf(filter.image, "ListImages");
    // A bare repository (`crictl images busybox`) lists every tag of it, as docker does.
    if (ref.kind === "named" && !ref.tag && !ref.digest) {
      const repository = repositoryOf(ref);
      return (await s.images.list(signal)).filter((image) =>
        [...image.repoTags, ...image.repoDigests].some((name) => {
          const parsed = tryParseImageRef(name);
          return parsed?.kind === "named" && repositoryOf(parsed) === repository;
        }),
      );
    }
    // A tag, digest or ID names one image: answer exactly what ImageStatus would find.
    const image = await s.images.find(ref, signal);
    return image ? [s.images.describe(image)] : [];
  }
  return s.images.list(signal);
}

export function imageList(s: Services): ServiceHandlers<typeof ImageService>["listImages"] {
  return async (request, { signal }) => ({ images: await listImages(s, request.filter, signal) });
}

export function imageStream(s: Services): ServiceHandlers<typeof ImageService>["streamImages"] {
  return async (request, send, { signal }) => {
    const images = await listImages(s, request.filter, signal);
    await sendInPages(images, (page) => send({ images: page }));
  };
}
