import { access, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { BerthError, failedPrecondition, internal, messageOf } from "../errors.ts";
import {
  type CniCacheEntry,
  listCacheEntries,
  readCacheEntry,
  removeCacheEntry,
  writeCacheEntry,
} from "./cni-cache.ts";
import { type CniNetworkList, parseNetworkConfig } from "./cni-config.ts";
import {
  type CniCommand,
  CniPluginError,
  DEFAULT_CNI_BIN_DIRS,
  DEFAULT_PLUGIN_TIMEOUT_MS,
  findPlugin,
  invokePlugin,
} from "./cni-exec.ts";
import {
  type CniAttachment,
  type CniCapabilities,
  capabilityArgs,
  cniArgs,
  DEFAULT_IFNAME,
  formatCniArgs,
  isValidNetworkName,
  requestConfig,
  validateContainerId,
  validateIfName,
} from "./cni-request.ts";
import { isResultObject, type PodIp, podIpsFromResult } from "./cni-result.ts";
import { atLeast, candidateVersions, chooseVersion } from "./cni-version.ts";

export { CniPluginError } from "./cni-exec.ts";
export type { CniAttachment, CniCapabilities } from "./cni-request.ts";
export type { PodIp } from "./cni-result.ts";

export interface CniNetworkOptions {
  /** Where ADD results are cached, e.g. <rootDir>/cni. */
  cacheDir: string;
  /** Searched in order for plugin executables, and passed as CNI_PATH. */
  binDirs?: string[];
  log: Logger;
  /** Per plugin invocation. */
  timeoutMs?: number;
}

/** What an ADD gave the pod. */
export interface CniAddResult {
  network: string;
  ifName: string;
  cniVersion: string;
  /** The pod's addresses, IPv4 first. */
  ips: PodIp[];
  /** The same without prefixes: [0] is the CRI's `network.ip`, the rest `additional_ips`. */
  podIps: string[];
  /** The final plugin's result, as cached. */
  result: Record<string, unknown>;
}

/** Identifies an attachment to tear down or check; the cached ADD supplies what is missing. */
export interface CniAttachmentRef {
  containerId: string;
  /** Gone or absent at DEL: CNI_NETNS is passed empty, as the spec allows. */
  netnsPath?: string;
  ifName?: string;
  /** Used only when no ADD was cached (e.g. berth crashed before writing it). */
  podNamespace?: string;
  podName?: string;
  podUid?: string;
  capabilities?: CniCapabilities;
}

/** DEL never throws for plugin failures: teardown must finish. */
export interface CniDelResult {
  /** One message per failed plugin (or unusable cache), for the caller's log. */
  errors: string[];
  /** Whether an ADD was cached: without one the plugins ran with the current config and no prevResult. */
  cached: boolean;
}

export type CniStatus = { ready: true } | { ready: false; reason: string; code?: number };

/**
 * CHECK runs only where the spec allows it. `chainedFailures` names the plugins after the
 * first that failed it (see `check`); absent when none did.
 */
export type CniCheckOutcome =
  | { checked: true; chainedFailures?: string[] }
  | { checked: false; reason: string };

/** The spec forbids parallel operations on one container; berth may still be asked for them. */
const containerQueues = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, operation: () => Promise<T>): Promise<T> {
  const previous = containerQueues.get(key) ?? Promise.resolve();
  const result = previous.catch(() => {}).then(operation);
  const tail = result.catch(() => {});
  containerQueues.set(key, tail);
  void tail.then(() => {
    if (containerQueues.get(key) === tail) containerQueues.delete(key);
  });
  return result;
}

interface Invocation {
  cniVersion: string;
  containerId: string;
  netns: string;
  ifName: string;
  args: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  prevResult: Record<string, unknown> | undefined;
}

/**
 * One CNI network (a config list) and its attachments, run as the CNI spec's "Section 3:
 * Execution of Network Configurations" describes, with the results cached under cacheDir.
 *
 * add() rolls back (DEL) what it added when a plugin fails; del() runs every plugin's DEL even
 * when some fail and answers the failures instead of throwing; both throw only for bad
 * arguments or when the caller's signal aborts (a DEL then keeps its cache for the retry).
 */
export class CniNetwork {
  readonly network: CniNetworkList;
  readonly #cacheDir: string;
  readonly #binDirs: string[];
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #version: string | undefined;
  readonly #versionAnswers = new Map<string, string[]>();

  constructor(network: CniNetworkList, options: CniNetworkOptions) {
    if (!isValidNetworkName(network.name)) {
      throw failedPrecondition(
        `CNI network name "${network.name}" in ${network.file} must start with a letter or digit, followed by letters, digits, "_", "." or "-"`,
      );
    }
    this.network = network;
    this.#cacheDir = options.cacheDir;
    this.#binDirs = options.binDirs ?? DEFAULT_CNI_BIN_DIRS;
    this.#log = options.log.child({ cniNetwork: network.name });
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  }

  get name(): string {
    return this.network.name;
  }

  /** Adds the pod to the network and answers its addresses. */
  async add(attachment: CniAttachment, signal?: AbortSignal): Promise<CniAddResult> {
    const ifName = checkedIfName(attachment);
    const args = cniArgs(attachment);
    const capArgs = capabilityArgs(attachment.capabilities);
    return serialized(this.#queueKey(attachment.containerId), async () => {
      const started = performance.now();
      throwIfCancelled(signal);
      if ((await existingPath(attachment.netnsPath)) === "") {
        throw failedPrecondition(
          `network namespace ${attachment.netnsPath || '""'} of ${attachment.containerId} does not exist`,
        );
      }
      // Every plugin must exist and speak the version before anything changes on the node.
      const cniVersion = await this.#usableVersion(signal);

      const previous = await this.#readCache(attachment.containerId, ifName).catch(() => undefined);
      if (previous?.state === "added") {
        throw failedPrecondition(
          `container ${attachment.containerId} is already attached to CNI network ${this.name} as ${ifName}; DEL it first`,
        );
      }
      if (previous) {
        // An ADD interrupted by a crash: undo it before adding again.
        const undone = await this.#del(previous.containerId, ifName, undefined, {}, undefined);
        if (undone.errors.length > 0) {
          this.#log.warn({ errors: undone.errors }, "undoing an interrupted CNI ADD had errors");
        }
      }

      const entry: CniCacheEntry = {
        kind: "berthCniCacheV1",
        network: this.name,
        containerId: attachment.containerId,
        ifName,
        netnsPath: attachment.netnsPath,
        cniVersion,
        config: { file: this.network.file, raw: this.network.raw },
        cniArgs: args,
        capabilityArgs: capArgs,
        state: "adding",
        result: null,
      };
      await writeCacheEntry(this.#cacheDir, entry).catch((err) => {
        throw internal(`cannot write the CNI cache: ${messageOf(err)}`, err);
      });
      const invocation: Invocation = {
        cniVersion,
        containerId: attachment.containerId,
        netns: attachment.netnsPath,
        ifName,
        args,
        capabilityArgs: capArgs,
        prevResult: undefined,
      };

      for (const [index, plugin] of this.network.plugins.entries()) {
        try {
          const output = await this.#invoke("ADD", plugin, invocation, signal);
          if (!isResultObject(output)) {
            throw new CniPluginError(
              "Internal",
              plugin.type,
              "ADD",
              this.name,
              "answered no result (the spec requires one on ADD)",
            );
          }
          invocation.prevResult = output;
        } catch (err) {
          await this.#rollback(entry, index, invocation, err);
          throw err;
        }
      }

      entry.state = "added";
      entry.result = invocation.prevResult ?? null;
      try {
        await writeCacheEntry(this.#cacheDir, entry);
      } catch (err) {
        const failure = internal(`cannot cache the CNI ADD result: ${messageOf(err)}`, err);
        await this.#rollback(entry, this.network.plugins.length - 1, invocation, failure);
        throw failure;
      }
      const result = toAddResult(entry);
      this.#log.debug(
        {
          containerId: attachment.containerId,
          ips: result.podIps,
          ms: Math.round(performance.now() - started),
        },
        "CNI ADD done",
      );
      return result;
    });
  }

  /**
   * Removes the pod from the network, with the config, arguments and result its ADD cached.
   * Every plugin's DEL runs even when one fails; the failures are answered, the cache is
   * removed (kept with `keepCacheOnFailure`, for a caller that will DEL again). Without a cached ADD the plugins still run (host-local must release the address),
   * with the current config and what `attachment` knows.
   */
  async del(
    attachment: CniAttachmentRef,
    signal?: AbortSignal,
    options: { keepCacheOnFailure?: boolean } = {},
  ): Promise<CniDelResult> {
    const ifName = checkedIfName(attachment);
    return serialized(this.#queueKey(attachment.containerId), async () => {
      const started = performance.now();
      const result = await this.#del(
        attachment.containerId,
        ifName,
        attachment.netnsPath,
        attachment,
        signal,
        options.keepCacheOnFailure === true,
      );
      this.#log.debug(
        {
          containerId: attachment.containerId,
          errors: result.errors,
          ms: Math.round(performance.now() - started),
        },
        "CNI DEL done",
      );
      return result;
    });
  }

  /**
   * CHECK of an attachment against its cached ADD. Skipped (not an error) for configs before
   * 0.4.0 and with disableCheck. The first plugin makes the pod's interface: its failure means
   * the pod's network is broken, and is thrown. The plugins chained after it (portmap,
   * bandwidth, firewall, tuning) only add to that network, and their failures are returned
   * instead: Debian's portmap 1.1.1 fails CHECK on every IPv4 pod with a host port, and a
   * runtime that called such pods broken would have the kubelet recreate healthy pods.
   */
  async check(attachment: CniAttachmentRef, signal?: AbortSignal): Promise<CniCheckOutcome> {
    const ifName = checkedIfName(attachment);
    return serialized(this.#queueKey(attachment.containerId), async () => {
      const entry = await this.#readCache(attachment.containerId, ifName);
      if (entry?.state !== "added" || !entry.result) {
        throw failedPrecondition(
          `container ${attachment.containerId} has no completed CNI ADD on network ${this.name} (${ifName}) to check`,
        );
      }
      const network = this.#cachedNetwork(entry);
      if (!atLeast(entry.cniVersion, "0.4.0")) {
        return { checked: false, reason: `CNI version ${entry.cniVersion} has no CHECK` };
      }
      if (network.disableCheck || this.network.disableCheck) {
        return { checked: false, reason: "the network config sets disableCheck" };
      }
      const invocation = invocationFromCache(entry, attachment.netnsPath ?? entry.netnsPath);
      const [first, ...chained] = network.plugins;
      if (first) await this.#invoke("CHECK", first, invocation, signal);
      const chainedFailures: string[] = [];
      for (const plugin of chained) {
        try {
          await this.#invoke("CHECK", plugin, invocation, signal);
        } catch (err) {
          if (signal?.aborted) throw err;
          chainedFailures.push(messageOf(err));
        }
      }
      return chainedFailures.length > 0 ? { checked: true, chainedFailures } : { checked: true };
    });
  }

  /**
   * Whether the network can serve ADDs: every plugin is installed and speaks the config's
   * version (as its VERSION answer says), and from CNI 1.1.0 on, every plugin's STATUS
   * succeeds. Never throws.
   */
  async status(signal?: AbortSignal): Promise<CniStatus> {
    let cniVersion: string;
    try {
      cniVersion = await this.#usableVersion(signal);
    } catch (err) {
      return { ready: false, reason: messageOf(err) };
    }
    if (!atLeast(cniVersion, "1.1.0")) return { ready: true };
    for (const plugin of this.network.plugins) {
      try {
        const path = await findPlugin(plugin.type, this.#binDirs);
        await invokePlugin({
          plugin: plugin.type,
          path,
          command: "STATUS",
          network: this.name,
          env: { CNI_PATH: this.#binDirs.join(":") },
          stdin: requestConfig(plugin, { name: this.name, cniVersion }),
          timeoutMs: this.#timeoutMs,
          signal,
          log: this.#log,
        });
      } catch (err) {
        const code = err instanceof CniPluginError ? err.code : undefined;
        return {
          ready: false,
          reason: messageOf(err),
          ...(code !== undefined ? { code } : {}),
        };
      }
    }
    return { ready: true };
  }

  /** What the ADD of a still-attached pod gave it, e.g. for PodSandboxStatus after a restart. */
  async cachedResult(
    containerId: string,
    ifName = DEFAULT_IFNAME,
  ): Promise<CniAddResult | undefined> {
    validateContainerId(containerId);
    validateIfName(ifName);
    const entry = await this.#readCache(containerId, ifName);
    return entry?.state === "added" && entry.result ? toAddResult(entry) : undefined;
  }

  #queueKey(containerId: string): string {
    return `${this.#cacheDir}\0${containerId}`;
  }

  #readCache(containerId: string, ifName: string): Promise<CniCacheEntry | undefined> {
    return readCacheEntry(this.#cacheDir, this.name, containerId, ifName);
  }

  /** The config an attachment was made with; the current one if the cached copy is unusable. */
  #cachedNetwork(entry: CniCacheEntry): CniNetworkList {
    try {
      return parseNetworkConfig(JSON.stringify(entry.config.raw), entry.config.file);
    } catch (err) {
      this.#log.warn(
        { err: messageOf(err), file: entry.config.file },
        "cached CNI config unusable; using the current one",
      );
      return this.network;
    }
  }

  async #chooseVersion(signal: AbortSignal | undefined): Promise<string> {
    if (this.#version) return this.#version;
    const candidates = candidateVersions(this.network.raw, this.network.file);
    let chosen = candidates[0] as string;
    if (candidates.length > 1) {
      const supported = await Promise.all(
        this.network.plugins.map((plugin) => this.#pluginVersions(plugin.type, chosen, signal)),
      );
      chosen = chooseVersion(candidates, supported);
    }
    this.#version = chosen;
    return chosen;
  }

  /**
   * The version to speak with this network, once every plugin is found and, where it answers
   * VERSION, supports it: a config a plugin cannot speak fails here, not half-way through an
   * ADD (Debian's firewall plugin, say, refuses 0.3.x).
   */
  async #usableVersion(signal: AbortSignal | undefined): Promise<string> {
    const cniVersion = await this.#chooseVersion(signal);
    const supported = await Promise.all(
      this.network.plugins.map((plugin) => this.#pluginVersions(plugin.type, cniVersion, signal)),
    );
    for (const [index, plugin] of this.network.plugins.entries()) {
      const versions = supported[index];
      if (versions && !versions.includes(cniVersion)) {
        throw failedPrecondition(
          `CNI plugin ${plugin.type} supports CNI versions ${versions.join(", ")}, not ${cniVersion} that network ${this.name} (${this.network.file}) uses`,
        );
      }
    }
    return cniVersion;
  }

  /**
   * A plugin's VERSION answer, asked once per binary (an upgraded one is asked again);
   * undefined when it gives none, which the spec allows. Throws when the plugin is missing.
   */
  async #pluginVersions(
    type: string,
    probeVersion: string,
    signal: AbortSignal | undefined,
  ): Promise<string[] | undefined> {
    const path = await findPlugin(type, this.#binDirs);
    const key = `${path}\0${(await stat(path)).mtimeMs}`;
    const known = this.#versionAnswers.get(key);
    if (known) return known;
    try {
      const output = await invokePlugin({
        plugin: type,
        path,
        command: "VERSION",
        network: this.name,
        env: {},
        stdin: { cniVersion: probeVersion },
        timeoutMs: this.#timeoutMs,
        signal,
        log: this.#log,
      });
      if (isResultObject(output) && Array.isArray(output.supportedVersions)) {
        const versions = output.supportedVersions.filter((v): v is string => typeof v === "string");
        this.#versionAnswers.set(key, versions);
        return versions;
      }
    } catch (err) {
      throwIfCancelled(signal);
      this.#log.debug({ plugin: type, err: messageOf(err) }, "CNI VERSION failed");
    }
    return undefined;
  }

  async #invoke(
    command: CniCommand,
    plugin: CniNetworkList["plugins"][number],
    invocation: Invocation,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const path = await findPlugin(plugin.type, this.#binDirs);
    const stdin = requestConfig(plugin, {
      name: this.name,
      cniVersion: invocation.cniVersion,
      prevResult: invocation.prevResult,
      capabilityArgs: invocation.capabilityArgs,
    });
    return invokePlugin({
      plugin: plugin.type,
      path,
      command,
      network: this.name,
      env: {
        CNI_CONTAINERID: invocation.containerId,
        CNI_NETNS: invocation.netns,
        CNI_IFNAME: invocation.ifName,
        CNI_ARGS: formatCniArgs(invocation.args),
        CNI_PATH: this.#binDirs.join(":"),
      },
      stdin,
      timeoutMs: this.#timeoutMs,
      signal,
      log: this.#log,
    });
  }

  /**
   * Undoes a failed ADD: DEL, in reverse, of every plugin up to the one that failed (it may
   * have half-done its work, e.g. an address allocated before the bridge failed), with the last
   * result there was. It runs on its own deadlines, not the caller's signal: an ADD abandoned
   * by its caller must still not leak an address. When the rollback itself fails the cache
   * entry stays, with that last result, for the sandbox's own DEL to retry.
   */
  async #rollback(
    entry: CniCacheEntry,
    failedIndex: number,
    invocation: Invocation,
    cause: unknown,
  ): Promise<void> {
    const errors: string[] = [];
    const prevResult = atLeast(invocation.cniVersion, "0.4.0") ? invocation.prevResult : undefined;
    for (let i = failedIndex; i >= 0; i--) {
      const plugin = this.network.plugins[i];
      if (!plugin) continue;
      try {
        await this.#invoke("DEL", plugin, { ...invocation, prevResult }, undefined);
      } catch (err) {
        errors.push(messageOf(err));
      }
    }
    if (errors.length === 0) {
      await removeCacheEntry(this.#cacheDir, this.name, entry.containerId, entry.ifName);
      this.#log.debug({ containerId: entry.containerId }, "CNI ADD failed; rolled back");
      return;
    }
    this.#log.warn(
      { containerId: entry.containerId, cause: messageOf(cause), errors },
      "CNI ADD failed and its rollback had errors; DEL will retry",
    );
    entry.result = invocation.prevResult ?? null;
    await writeCacheEntry(this.#cacheDir, entry).catch((err) =>
      this.#log.warn({ err: messageOf(err) }, "cannot update the CNI cache after a rollback"),
    );
    if (cause instanceof Error) cause.message += ` (rollback: ${errors.join("; ")})`;
  }

  async #del(
    containerId: string,
    ifName: string,
    netnsPath: string | undefined,
    known: Omit<CniAttachmentRef, "containerId">,
    signal: AbortSignal | undefined,
    keepCacheOnFailure = false,
  ): Promise<CniDelResult> {
    const errors: string[] = [];
    let entry: CniCacheEntry | undefined;
    try {
      entry = await this.#readCache(containerId, ifName);
    } catch (err) {
      errors.push(messageOf(err));
    }
    const network = entry ? this.#cachedNetwork(entry) : this.network;
    let cniVersion: string;
    try {
      cniVersion = entry?.cniVersion ?? (await this.#chooseVersion(signal));
    } catch (err) {
      throwIfCancelled(signal);
      return { errors: [...errors, messageOf(err)], cached: false };
    }
    const netns = await existingPath(netnsPath ?? entry?.netnsPath ?? "");
    const invocation: Invocation = entry
      ? invocationFromCache(entry, netns)
      : {
          cniVersion,
          containerId,
          netns,
          ifName,
          args: cniArgs({ containerId, ...known }),
          capabilityArgs: capabilityArgs(known.capabilities),
          prevResult: undefined,
        };
    // prevResult on DEL arrived with 0.4.0: a 0.3.x DEL carries none, as libcni sends it.
    if (!atLeast(cniVersion, "0.4.0")) invocation.prevResult = undefined;

    for (const plugin of [...network.plugins].reverse()) {
      try {
        await this.#invoke("DEL", plugin, invocation, signal);
      } catch (err) {
        // Abandoned by the caller: stop, keeping the cache for the DEL that will follow.
        if (signal?.aborted) throw err;
        errors.push(messageOf(err));
      }
    }
    if (!(keepCacheOnFailure && errors.length > 0 && entry)) {
      await removeCacheEntry(this.#cacheDir, this.name, containerId, ifName);
    }
    return { errors, cached: entry !== undefined };
  }
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new BerthError("Cancelled", "CNI operation cancelled by the caller", {
      cause: signal.reason,
    });
  }
}

function invocationFromCache(entry: CniCacheEntry, netns: string): Invocation {
  return {
    cniVersion: entry.cniVersion,
    containerId: entry.containerId,
    netns,
    ifName: entry.ifName,
    args: entry.cniArgs,
    capabilityArgs: entry.capabilityArgs,
    prevResult: entry.result ?? undefined,
  };
}

function toAddResult(entry: CniCacheEntry): CniAddResult {
  const result = entry.result ?? {};
  const ips = podIpsFromResult(result, entry.ifName);
  return {
    network: entry.network,
    ifName: entry.ifName,
    cniVersion: entry.cniVersion,
    ips,
    podIps: ips.map((ip) => ip.address),
    result,
  };
}

/** The path when it exists; "" (CNI_NETNS unset, as the spec allows for DEL) when gone. */
async function existingPath(path: string): Promise<string> {
  if (path === "") return "";
  try {
    await access(path);
    return path;
  } catch {
    return "";
  }
}

/** A cached attachment of a container, on whatever network it was made. */
export interface CachedAttachment {
  network: string;
  containerId: string;
  ifName: string;
  netnsPath: string;
  /** false for an ADD that never completed (berth crashed, or its rollback failed). */
  complete: boolean;
  podIps: string[];
}

/**
 * Every attachment cached for a container. A sandbox whose network config changed (or was
 * removed) since its ADD is torn down with `cachedNetwork(...)`, which rebuilds the network
 * from the cached config.
 */
export async function listCachedAttachments(
  cacheDir: string,
  containerId: string,
): Promise<{ attachments: CachedAttachment[]; problems: string[] }> {
  validateContainerId(containerId);
  const { entries, problems } = await listCacheEntries(cacheDir, containerId);
  return {
    attachments: entries.map((entry) => ({
      network: entry.network,
      containerId: entry.containerId,
      ifName: entry.ifName,
      netnsPath: entry.netnsPath,
      complete: entry.state === "added",
      podIps: entry.result
        ? podIpsFromResult(entry.result, entry.ifName).map((ip) => ip.address)
        : [],
    })),
    problems,
  };
}

/** The network an attachment was made on, from its cache: for DEL after the config changed. */
export async function cachedNetwork(
  options: CniNetworkOptions,
  network: string,
  containerId: string,
  ifName = DEFAULT_IFNAME,
): Promise<CniNetwork | undefined> {
  validateContainerId(containerId);
  validateIfName(ifName);
  if (!isValidNetworkName(network)) return undefined;
  const entry = await readCacheEntry(options.cacheDir, network, containerId, ifName);
  if (!entry) return undefined;
  return new CniNetwork(parseNetworkConfig(JSON.stringify(entry.config.raw), entry.config.file), {
    ...options,
  });
}

/** The attachment's interface name (eth0 unless given), its container id and name checked. */
function checkedIfName(attachment: { containerId: string; ifName?: string | undefined }): string {
  const ifName = attachment.ifName ?? DEFAULT_IFNAME;
  validateContainerId(attachment.containerId);
  validateIfName(ifName);
  return ifName;
}
