import { createHash } from "node:crypto";
import { readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { readTextIfPresent } from "../util/read-optional.ts";

/** What tearing a sandbox's network down needs, even when its pause container is gone. */
export interface SandboxNetworkState {
  /** The pause container's network namespace when it was set up: /proc/<pid>/ns/net. */
  netnsPath: string;
  hostNetwork: boolean;
  /** The CNI network the sandbox was attached to; undefined for host network. */
  cniNetwork: string | undefined;
  ifName: string;
  ips: string[];
  portMappings: Array<{
    hostPort: number;
    containerPort: number;
    protocol: string;
    hostIP: string;
  }>;
  podName: string;
  podNamespace: string;
  podUid: string;
  /**
   * Enough to still list the sandbox (NOTREADY) and tear it down when its pause container
   * vanished behind berth's back.
   */
  sandbox: { name: string; configJson: string; runtimeHandler: string; createdAt: string };
  /** Set before CNI ADD starts (teardown may be needed); cleared once teardown ran. */
  attached: boolean;
  /** Set once CNI ADD succeeded (or for host network): the sandbox may be READY. */
  ready: boolean;
  /** Network teardowns (CNI DEL) of a completed ADD that failed so far; absent: none. */
  teardownFailures?: number;
  /**
   * Set when berth took the sandbox over from cri-dockerd: where cri-dockerd's own state of it
   * lies (its checkpoint, libcni's cache of its attachments), removed with the sandbox.
   */
  adoptedFrom?: { criDockerdRootDir: string; cniCacheDir: string };
}

const VERSION = 1;

interface CheckpointFile {
  version: number;
  checksum: string;
  data: SandboxNetworkState;
}

/**
 * One checkpoint per sandbox under <root>/sandboxes/<id>.json, written atomically with a
 * checksum. A file that fails to parse or verify is moved aside as <id>.json.corrupt-<time>
 * and reported, never fatal: the sandbox then shows NOTREADY and is still removable.
 */
export class SandboxCheckpoints {
  readonly #dir: string;
  readonly #log: Logger;
  /** Only berth writes these files, so what it read or wrote once stays true. */
  readonly #cache = new Map<string, SandboxNetworkState | undefined>();

  constructor(rootDir: string, log: Logger) {
    this.#dir = join(rootDir, "sandboxes");
    this.#log = log;
  }

  #path(id: string): string {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`not a sandbox id: ${id}`);
    return join(this.#dir, `${id}.json`);
  }

  async write(id: string, data: SandboxNetworkState): Promise<void> {
    const file: CheckpointFile = { version: VERSION, checksum: checksumOf(data), data };
    await writeFileAtomic(this.#path(id), `${JSON.stringify(file)}\n`);
    this.#cache.set(id, data);
  }

  async read(id: string): Promise<SandboxNetworkState | undefined> {
    if (this.#cache.has(id)) return this.#cache.get(id);
    const data = await this.#readFile(id);
    this.#cache.set(id, data);
    return data;
  }

  async #readFile(id: string): Promise<SandboxNetworkState | undefined> {
    const path = this.#path(id);
    const text = await readTextIfPresent(path);
    if (text === undefined) return undefined;
    const problem = verify(text);
    if (typeof problem === "string") {
      const aside = `${path}.corrupt-${Date.now()}`;
      await rename(path, aside).catch(() => {});
      this.#log.error(
        { sandbox: id, file: aside, problem },
        "corrupt sandbox checkpoint set aside",
      );
      return undefined;
    }
    return problem.data;
  }

  async remove(id: string): Promise<void> {
    await rm(this.#path(id), { force: true });
    this.#cache.delete(id);
  }

  /** Ids of every sandbox with a checkpoint (for recovery after a crash or reboot). */
  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.#dir))
        .filter((name) => /^[0-9a-f]{64}\.json$/.test(name))
        .map((name) => name.slice(0, 64));
    } catch {
      return [];
    }
  }
}

function checksumOf(data: SandboxNetworkState): string {
  return `sha256:${createHash("sha256").update(JSON.stringify(data)).digest("hex")}`;
}

/** The parsed checkpoint, or why it cannot be trusted. */
export function verify(text: string): CheckpointFile | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  const file = parsed as Partial<CheckpointFile>;
  if (file.version !== VERSION) return `unknown version ${String(file.version)}`;
  if (!file.data || typeof file.data !== "object") return "no data";
  if (file.checksum !== checksumOf(file.data)) return "checksum mismatch";
  return file as CheckpointFile;
}
