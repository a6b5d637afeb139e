import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";

/**
 * Start failures the engine never saw: StartContainer can fail before Docker runs anything
 * (the CRI log file cannot be opened). Docker then still says "created", and without this
 * record the kubelet would see the container CREATED forever instead of EXITED with the
 * reason. Kept on disk (one small file per container) so a restarted berth still knows.
 */
export class StartFailures {
  readonly #dir: string;
  readonly #failures = new Map<string, string>();

  constructor(rootDir: string) {
    this.#dir = join(rootDir, "start-failures");
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.#dir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        this.#failures.set(name, readFileSync(join(this.#dir, name), "utf8"));
      } catch {
        // unreadable: the container shows as Docker has it
      }
    }
  }

  get(id: string): string | undefined {
    return this.#failures.get(id);
  }

  async record(id: string, message: string): Promise<void> {
    await writeFileAtomic(join(this.#dir, id), message);
    this.#failures.set(id, message);
  }

  forget(id: string): void {
    if (!this.#failures.delete(id)) return;
    rmSync(join(this.#dir, id), { force: true });
  }

  /**
   * Forgets the records of containers that no longer exist (removed behind berth's back, or
   * while berth was down): without this they would pile up, in memory and on disk, for good.
   */
  retainOnly(existing: ReadonlySet<string>): void {
    for (const id of [...this.#failures.keys()]) if (!existing.has(id)) this.forget(id);
  }

  get size(): number {
    return this.#failures.size;
  }
}
