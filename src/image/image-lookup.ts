import type { DockerEngine } from "../docker/engine.ts";
import type { ImageInspect, ImageSummary } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import type { ImageSpec } from "../gen/runtime/v1/api_pb.js";
import { type CriImageInit, toCriImage } from "./image-convert.ts";

const NAMES_TTL_MS = 10_000;

export interface ImageNames {
  repoTags: string[];
  repoDigests: string[];
}

import { type ImageRef, normalizeImageRef, parseImageRef } from "./reference.ts";

/**
 * Finding images and describing them in CRI terms. An image's config (its User) never
 * changes for a given ID, so inspections are remembered by ID; tags and digests, which do
 * change, always come fresh from the engine.
 */
export class ImageLookup {
  readonly #docker: DockerEngine;
  readonly #pinned: ReadonlySet<string>;
  readonly #userById = new Map<string, string>();
  readonly #namesById = new Map<string, { names: ImageNames; at: number }>();

  constructor(docker: DockerEngine, pinnedImages: string[]) {
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

  /**
   * Tags and digests of an image ID, for container listings the kubelet polls every second:
   * cached briefly (tags rarely change, and a stale tag only affects a display name).
   */
  async namesById(id: string, signal?: AbortSignal): Promise<ImageNames | undefined> {
    const cached = this.cachedNames(id);
    if (cached) return cached;
    const image = await this.#docker.findImage(id, signal).catch(() => undefined);
    const names = image
      ? {
          repoTags: (image.RepoTags ?? []).filter((tag) => !tag.startsWith("<none>")),
          repoDigests: (image.RepoDigests ?? []).filter((digest) => !digest.startsWith("<none>")),
        }
      : { repoTags: [], repoDigests: [] };
    // Unchanged names keep their identity: the listings' cached encodings are keyed by it.
    const previous = this.#namesById.get(id)?.names;
    const kept = previous && sameNames(previous, names) ? previous : names;
    // Stale entries go as new ones come: IDs of removed images would otherwise stay for good.
    const now = Date.now();
    for (const [key, entry] of this.#namesById) {
      if (now - entry.at >= NAMES_TTL_MS) this.#namesById.delete(key);
    }
    this.#namesById.set(id, { names: kept, at: now });
    return kept;
  }

  /** The names of an image ID when they are cached and fresh: no waiting on the hot path. */
  cachedNames(id: string): ImageNames | undefined {
    const cached = this.#namesById.get(id);
    return cached && Date.now() - cached.at < NAMES_TTL_MS ? cached.names : undefined;
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

function sameNames(a: ImageNames, b: ImageNames): boolean {
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.repoTags, b.repoTags) && same(a.repoDigests, b.repoDigests);
}
