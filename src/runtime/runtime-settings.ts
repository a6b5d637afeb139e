import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";

/**
 * What the kubelet tells berth through UpdateRuntimeConfig (today: the pod CIDR), kept on
 * disk so a restarted berth still knows it before the kubelet calls again.
 */
export class RuntimeSettings {
  readonly #file: string;
  #podCidr: string | undefined;
  /** What is on disk: the flag's value may equal a CIDR the kubelet sends, yet must be saved. */
  #stored: string | undefined;

  private constructor(file: string, podCidr: string | undefined, stored: string | undefined) {
    this.#file = file;
    this.#podCidr = podCidr;
    this.#stored = stored;
  }

  static async load(rootDir: string, flagPodCidr: string | undefined): Promise<RuntimeSettings> {
    const file = join(rootDir, "runtime-config.json");
    let stored: string | undefined;
    try {
      const parsed = JSON.parse(await readFile(file, "utf8")) as { podCidr?: unknown };
      if (typeof parsed.podCidr === "string" && parsed.podCidr !== "") stored = parsed.podCidr;
    } catch {
      // absent or unreadable: nothing was stored yet
    }
    return new RuntimeSettings(file, stored ?? flagPodCidr, stored);
  }

  get podCidr(): string | undefined {
    return this.#podCidr;
  }

  async setPodCidr(cidr: string): Promise<void> {
    if (cidr !== this.#stored) {
      await writeFileAtomic(this.#file, `${JSON.stringify({ podCidr: cidr })}\n`);
      this.#stored = cidr;
    }
    this.#podCidr = cidr;
  }
}
