import type { ImageService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";
import { imageFsInfo } from "./image-fs-info.ts";
import { imageList, imageStream } from "./image-list.ts";
import { imagePull } from "./image-pull.ts";
import { imageRemove } from "./image-remove.ts";
import { imageStatus } from "./image-status.ts";

export function imageServiceHandlers(s: Services): ServiceHandlers<typeof ImageService> {
  return {
    listImages: imageList(s),
    streamImages: imageStream(s),
    imageStatus: imageStatus(s),
    pullImage: imagePull(s),
    removeImage: imageRemove(s),
    imageFsInfo: imageFsInfo(s),
  };
}
