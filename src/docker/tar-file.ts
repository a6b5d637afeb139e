import type { Readable } from "node:stream";
import { extract } from "tar-stream";

/**
 * The content of the first entry of a tar stream when it is a regular file (the engine's
 * archive API answers a file path with a one-entry tar); undefined for anything else (a
 * symbolic link, a directory).
 */
export async function firstFileOfTar(tar: Readable): Promise<Buffer | undefined> {
  const entries = extract();
  tar.pipe(entries);
  try {
    for await (const entry of entries) {
      if (entry.header.type !== "file") {
        entry.resume();
        return undefined;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    }
    return undefined;
  } finally {
    tar.unpipe(entries);
    tar.resume();
  }
}
