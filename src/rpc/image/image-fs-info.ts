import { statfs } from "node:fs/promises";
import type { ImageService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/**
 * The filesystem holding the engine's data root: images and containers' writable layers both
 * live there, so it answers for the image and the container filesystem alike.
 */
export function imageFsInfo(s: Services): ServiceHandlers<typeof ImageService>["imageFsInfo"] {
  return async (_request, { signal }) => {
    const { info } = await s.engine.get(signal);
    const mountpoint = info.DockerRootDir;
    const fs = await statfs(mountpoint, { bigint: true });
    const usage = {
      timestamp: BigInt(Date.now()) * 1_000_000n,
      fsId: { mountpoint },
      usedBytes: { value: (fs.blocks - fs.bfree) * fs.bsize },
      inodesUsed: { value: fs.files - fs.ffree },
    };
    return { imageFilesystems: [usage], containerFilesystems: [usage] };
  };
}
