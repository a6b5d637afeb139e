import type { DockerClient } from "../docker/client.ts";
import type { ImageInspect, ImageSummary } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import type { ImageSpec } from "../gen/runtime/v1/api_pb.js";
import { type CriImageInit, toCriImage } from "./image-convert.ts";
import { type ImageRef, normalizeImageRef, parseImageRef } from "./reference.ts";

/**
 * Finding images and describing them in CRI terms. An image's config (its User) never
 * changes for a given ID, so inspections are remembered by ID; tags and digests, which do
 * change, always come fresh from the engine.
 */
export class ImageLookup {
  readonly #docker: DockerClient;
  readonly #pinned: ReadonlySet<string>;
  readonly #userById = new Map<string, string>();

  constructor(docker: DockerClient, pinnedImages: string[]) {
    this.#docker = docker;
    this.#pinned = new Set(pinnedImages.map((image) => normalizeImageRef(parseImageRef(image))));
  }

  /** Parses the request's image, refusing an empty or malformed one. */
  static refOf(spec: ImageSpec | undefined, rpc: string): ImageRef {
    const image = spec?.image ?? "";
    if (image === "") throw invalidArgument(`${rpc}: image.image must name an image`);
    return parseImageRef(image);
  }

  /** The engine's image for a reference (ID, tag or digest), or undefined. */
  async find(ref: ImageRef, signal: AbortSignal): Promise<ImageInspect | undefined> {
    const image = await this.#docker.findImage(normalizeImageRef(ref), signal);
    if (image) this.#userById.set(image.Id, image.Config?.User ?? "");
    return image;
  }

  describe(image: ImageInspect): CriImageInit {
    return toCriImage({ ...image, User: image.Config?.User }, this.#pinned);
  }

  /** Every image, described; summaries lack the User, which is fetched once per new ID. */
  async list(signal: AbortSignal): Promise<CriImageInit[]> {
    const summaries = await this.#docker.listImages(signal);
    const known = new Set(summaries.map((summary) => summary.Id));
    for (const id of this.#userById.keys()) if (!known.has(id)) this.#userById.delete(id);
    return Promise.all(summaries.map((summary) => this.#describeSummary(summary, signal)));
  }

  async #describeSummary(summary: ImageSummary, signal: AbortSignal): Promise<CriImageInit> {
    let user = this.#userById.get(summary.Id);
    if (user === undefined) {
      const image = await this.#docker.findImage(summary.Id, signal);
      user = image?.Config?.User ?? "";
      this.#userById.set(summary.Id, user);
    }
    return toCriImage({ ...summary, User: user }, this.#pinned);
  }
}
