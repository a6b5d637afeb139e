import type { DockerEngine } from "../docker/engine.ts";
import type { EngineInfo, EngineVersion } from "../docker/types.ts";

export interface EngineFacts {
  apiVersion: string;
  version: EngineVersion;
  info: EngineInfo;
}

const MAX_AGE_MS = 30_000;

/**
 * Engine version and info change only when the engine is upgraded or reconfigured, which
 * restarts it; Status is polled constantly, so they are cached briefly instead of fetched
 * on every call.
 */
export class EngineFactsCache {
  readonly #docker: DockerEngine;
  #facts: { value: Promise<EngineFacts>; at: number } | undefined;

  constructor(docker: DockerEngine) {
    this.#docker = docker;
  }

  get(signal?: AbortSignal): Promise<EngineFacts> {
    const now = Date.now();
    if (!this.#facts || now - this.#facts.at > MAX_AGE_MS) {
      const value = this.#load(signal);
      const entry = { value, at: now };
      this.#facts = entry;
      value.catch(() => {
        if (this.#facts === entry) this.#facts = undefined;
      });
    }
    return this.#facts.value;
  }

  /** Forget what is cached, e.g. after the engine was unreachable. */
  invalidate(): void {
    this.#facts = undefined;
  }

  async #load(signal?: AbortSignal): Promise<EngineFacts> {
    const apiVersion = await this.#docker.apiVersion(signal);
    const [version, info] = await Promise.all([
      this.#docker.version(signal),
      this.#docker.info(signal),
    ]);
    return { apiVersion, version, info };
  }
}
