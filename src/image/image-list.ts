import type { ImageFilter, ImageService } from "../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../server/service-handlers.ts";
import type { Services } from "../services.ts";
import type { CriImageInit } from "./image-convert.ts";
import { ImageLookup } from "./image-lookup.ts";

/** StreamImages sends the list in pages, so no answer outgrows the message size limit. */
const STREAM_PAGE = 500;

async function listImages(
  s: Services,
  filter: ImageFilter | undefined,
  signal: AbortSignal,
): Promise<CriImageInit[]> {
  // A filter names one image (ID, tag or digest): answer exactly what ImageStatus would find.
  if (filter?.image && filter.image.image !== "") {
    const image = await s.images.find(ImageLookup.refOf(filter.image, "ListImages"), signal);
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
    for (let start = 0; start < images.length; start += STREAM_PAGE) {
      await send({ images: images.slice(start, start + STREAM_PAGE) });
    }
  };
}
