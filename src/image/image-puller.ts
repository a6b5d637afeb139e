import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { DockerEngine } from "../docker/engine.ts";
import { DockerError } from "../docker/errors.ts";
import type { ImageInspect, PullProgress, RegistryAuth } from "../docker/types.ts";
import { deadlineExceeded } from "../errors.ts";
import type { PullResult } from "../metrics/instruments.ts";
import { recordPull } from "../metrics/record.ts";
import { jsonLines } from "../util/json-lines.ts";
import { LayerDownloads } from "./layer-downloads.ts";
import { Coalescer } from "./pull-coalescer.ts";
import { type ImageRef, normalizeImageRef, pullArguments } from "./reference.ts";

/**
 * Pulls through the engine: one Docker pull for concurrent requests of the same image and
 * credentials, cancelled when it makes no progress for the configured deadline (a stalled
 * registry connection otherwise blocks the kubelet's pull worker until its own timeout).
 */
export class ImagePuller {
  readonly #docker: DockerEngine;
  readonly #log: Logger;
  readonly #progressDeadlineMs: number;
  readonly #pulls = new Coalescer<string>();

  constructor(docker: DockerEngine, log: Logger, progressDeadlineMs: number) {
    this.#docker = docker;
    this.#log = log;
    this.#progressDeadlineMs = progressDeadlineMs;
  }

  /** Pulls and answers the pulled image's Docker ID. */
  pull(ref: ImageRef, auth: RegistryAuth | undefined, signal: AbortSignal): Promise<string> {
    const normalized = normalizeImageRef(ref);
    const key = `${normalized}\u0000${auth ? createHash("sha256").update(JSON.stringify(auth)).digest("hex") : ""}`;
    return this.#pulls.run(key, signal, (shared) => this.#pull(ref, normalized, auth, shared));
  }

  get inFlight(): number {
    return this.#pulls.size;
  }

  async #pull(
    ref: ImageRef,
    normalized: string,
    auth: RegistryAuth | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const { fromImage, tag } = pullArguments(ref);
    const stall = new AbortController();
    const combined = AbortSignal.any([signal, stall.signal]);
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(), this.#progressDeadlineMs);
    };
    const started = performance.now();
    const downloads = new LayerDownloads();
    const record = (result: PullResult) =>
      recordPull(result, (performance.now() - started) / 1000, downloads.bytes());
    this.#log.info({ image: normalized }, "pulling image");
    try {
      arm();
      const body = await this.#docker.pullImage(fromImage, tag, auth, combined);
      for await (const progress of jsonLines<PullProgress>(body)) {
        arm();
        if (progress.error !== undefined) {
          const message = progress.errorDetail?.message ?? progress.error;
          throw new DockerError("Internal", `pull image ${normalized}: ${message}`);
        }
        downloads.update(progress);
      }
    } catch (err) {
      if (stall.signal.aborted && !signal.aborted) {
        record("deadline_exceeded");
        throw deadlineExceeded(
          `pull image ${normalized}: cancelled after ${this.#progressDeadlineMs} ms without progress`,
        );
      }
      record(signal.aborted ? "cancelled" : "failure");
      throw err;
    } finally {
      clearTimeout(timer);
    }
    let image: ImageInspect;
    try {
      image = await this.#docker.inspectImage(pullTarget(ref, fromImage, tag), signal);
    } catch (err) {
      record(signal.aborted ? "cancelled" : "failure");
      throw err;
    }
    record("success");
    this.#log.info(
      { image: normalized, id: image.Id, ms: Math.round(performance.now() - started) },
      "pulled image",
    );
    return image.Id;
  }
}

/** What to inspect after a pull: by digest when pulled by digest, else repository:tag. */
function pullTarget(ref: ImageRef, fromImage: string, tag: string): string {
  if (ref.kind === "named" && ref.digest) return `${fromImage}@${ref.digest}`;
  return `${fromImage}:${tag}`;
}
