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

  private constructor(file: string, podCidr: string | undefined) {
    this.#file = file;
    this.#podCidr = podCidr;
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
    return new RuntimeSettings(file, stored ?? flagPodCidr);
  }

  get podCidr(): string | undefined {
    return this.#podCidr;
  }

  async setPodCidr(cidr: string): Promise<void> {
    if (cidr === this.#podCidr) return;
    await writeFileAtomic(this.#file, `${JSON.stringify({ podCidr: cidr })}\n`);
    this.#podCidr = cidr;
  }
}
