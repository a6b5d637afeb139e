import { type FSWatcher, watch } from "node:fs";
import type { Logger } from "pino";
import { failedPrecondition, messageOf } from "../errors.ts";
import type { SandboxNetworkState } from "../store/sandbox-checkpoint.ts";
import { CniNetwork, type CniNetworkOptions, cachedNetwork, listCachedAttachments } from "./cni.ts";
import { type CniNetworkList, findNetworkConfig } from "./cni-config.ts";
import type { PodAttachment, PodNetwork } from "./pod-network.ts";

/**
 * Host setup a network needs before its first pod (berth's default network: its forwarding and
 * masquerade rules); run once per loaded config, so again after a reload.
 */
export type PrepareNetwork = (network: CniNetworkList) => Promise<void>;

/** Status is polled constantly; plugin VERSION/STATUS answers are reused this long. */
const STATUS_TTL_MS = 10_000;

/**
 * Pod networking through CNI: the first valid config of the conf directory, reloaded when
 * the directory changes (watched, and re-read at least every few seconds in case a watch
 * event was missed), attachments torn down with what their ADD cached.
 */
export class CniPodNetwork implements PodNetwork {
  readonly #confDir: string;
  readonly #options: CniNetworkOptions;
  readonly #log: Logger;
  #loaded: { at: number; lookup: Promise<CniNetwork | string> } | undefined;
  #status:
    | { at: number; network: CniNetwork; answer: Awaited<ReturnType<PodNetwork["status"]>> }
    | undefined;
  #watcher: FSWatcher | undefined;
  /** The network of the last config read, reused while the config stays the same. */
  #current: CniNetwork | undefined;
  readonly #prepare: PrepareNetwork | undefined;
  readonly #prepared = new WeakMap<CniNetwork, Promise<void>>();

  constructor(
    confDir: string,
    binDirs: string[],
    cacheDir: string,
    log: Logger,
    pluginTimeoutMs?: number,
    prepare?: PrepareNetwork,
  ) {
    this.#confDir = confDir;
    this.#log = log;
    this.#prepare = prepare;
    this.#options = {
      cacheDir,
      binDirs,
      log,
      ...(pluginTimeoutMs !== undefined ? { timeoutMs: pluginTimeoutMs } : {}),
    };
    try {
      this.#watcher = watch(confDir, () => this.invalidate());
      this.#watcher.on("error", () => this.#watcher?.close());
      this.#watcher.unref();
    } catch {
      // The directory may not exist yet; the periodic re-read notices when it does.
    }
  }

  /** Forget the loaded config (the directory changed). */
  invalidate(): void {
    this.#loaded = undefined;
    this.#status = undefined;
    this.#current = undefined;
  }

  close(): void {
    this.#watcher?.close();
  }

  async #network(): Promise<CniNetwork | string> {
    const now = Date.now();
    if (!this.#loaded || now - this.#loaded.at > STATUS_TTL_MS) {
      const lookup = findNetworkConfig(this.#confDir).then((found) => {
        if (!found.ok) return found.reason;
        // An unchanged config keeps its network, and with it what the plugins' VERSION
        // answers and the host preparation found: a new one every re-read ran every plugin
        // again each 10 s under the kubelet's Status polling.
        const current = this.#current;
        if (current && sameConfig(current.network, found.network)) return current;
        try {
          this.#current = new CniNetwork(found.network, this.#options);
          return this.#current;
        } catch (err) {
          return messageOf(err);
        }
      });
      this.#loaded = { at: now, lookup };
    }
    return this.#loaded.lookup;
  }

  async status(): ReturnType<PodNetwork["status"]> {
    const network = await this.#network();
    if (typeof network === "string") return { ready: false, reason: network };
    const cached = this.#status;
    if (cached && cached.network === network && Date.now() - cached.at < STATUS_TTL_MS) {
      return cached.answer;
    }
    const status = await network.status();
    const answer = status.ready
      ? ({ ready: true, network: network.name } as const)
      : ({ ready: false, reason: `network ${network.name}: ${status.reason}` } as const);
    this.#status = { at: Date.now(), network, answer };
    return answer;
  }

  async attach(pod: PodAttachment, signal: AbortSignal) {
    const network = await this.#network();
    if (typeof network === "string") {
      throw failedPrecondition(`pod network is not ready: ${network}`);
    }
    await this.#prepareOnce(network);
    const result = await network.add(
      {
        containerId: pod.sandboxId,
        netnsPath: pod.netnsPath,
        podName: pod.podName,
        podNamespace: pod.podNamespace,
        podUid: pod.podUid,
        capabilities: {
          portMappings: pod.portMappings,
          bandwidth: pod.bandwidth,
          dns: pod.dns,
        },
      },
      signal,
    );
    return { network: result.network, ifName: result.ifName, ips: result.podIps };
  }

  /** Concurrent attaches share one preparation; a failed one is tried again by the next. */
  #prepareOnce(network: CniNetwork): Promise<void> {
    const prepare = this.#prepare;
    if (!prepare) return Promise.resolve();
    let pending = this.#prepared.get(network);
    if (!pending) {
      pending = prepare(network.network).catch((err: unknown) => {
        this.#prepared.delete(network);
        throw failedPrecondition(
          `cannot set up the host for CNI network ${network.name}: ${messageOf(err)}`,
          err,
        );
      });
      this.#prepared.set(network, pending);
    }
    return pending;
  }

  async verify(containerId: string, state: SandboxNetworkState, signal: AbortSignal) {
    if (!state.cniNetwork) return undefined;
    const network = await cachedNetwork(this.#options, state.cniNetwork, containerId, state.ifName);
    if (!network) return `no cached ADD for network ${state.cniNetwork}`;
    try {
      const outcome = await network.check(
        { containerId, netnsPath: state.netnsPath, ifName: state.ifName },
        signal,
      );
      if (!outcome.checked)
        this.#log.debug({ sandbox: containerId, why: outcome.reason }, "CNI CHECK skipped");
      else if (outcome.chainedFailures)
        this.#log.warn(
          { sandbox: containerId, failures: outcome.chainedFailures },
          "chained CNI plugins failed CHECK; the pod's interface passed it, so the sandbox stays READY",
        );
      return undefined;
    } catch (err) {
      return messageOf(err);
    }
  }

  async detach(
    containerId: string,
    state: SandboxNetworkState,
    netnsPath: string,
    signal: AbortSignal,
    options: { keepCacheOnFailure?: boolean } = {},
  ) {
    const failures: string[] = [];
    const ref = {
      containerId,
      netnsPath,
      podName: state.podName,
      podNamespace: state.podNamespace,
      podUid: state.podUid,
    };
    // Every network the sandbox has a cached ADD on, with the config that ADD used.
    const { attachments, problems } = await listCachedAttachments(
      this.#options.cacheDir,
      containerId,
    );
    failures.push(...problems);
    for (const attachment of attachments) {
      const network = await cachedNetwork(
        this.#options,
        attachment.network,
        containerId,
        attachment.ifName,
      );
      if (!network) continue;
      const result = await network.del({ ...ref, ifName: attachment.ifName }, signal, options);
      failures.push(...result.errors);
    }
    if (attachments.length === 0) {
      // No cached ADD (berth died before the plugins answered): DEL with today's config, so
      // that host-local still releases whatever address it handed out.
      const network = await this.#network();
      if (typeof network === "string") {
        failures.push(`no cached ADD and no usable network config: ${network}`);
      } else {
        const result = await network.del({ ...ref, ifName: state.ifName }, signal);
        failures.push(...result.errors);
      }
    }
    if (failures.length > 0) this.#log.debug({ sandbox: containerId, failures }, "CNI DEL");
    return failures;
  }
}

function sameConfig(a: CniNetworkList, b: CniNetworkList): boolean {
  return a.file === b.file && JSON.stringify(a.raw) === JSON.stringify(b.raw);
}
