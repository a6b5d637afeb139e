import { readFileSync } from "node:fs";
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { recordDockerRequest } from "../metrics/record.ts";
import { nodeHttp } from "../util/node-http.ts";
import { negotiateApiVersion } from "./api-version.ts";
import type { DockerEndpoint } from "./endpoint.ts";
import {
  DockerError,
  dockerErrorFromResponse,
  dockerErrorFromTransport,
  type EngineLiveness,
  isNotFound,
  serverFailure,
} from "./errors.ts";
import { hijack } from "./hijack.ts";
import { firstFileOfTar } from "./tar-file.ts";
import type {
  ContainerCreateBody,
  ContainerInspect,
  ContainerSummary,
  EngineInfo,
  EngineVersion,
  ExecCreateBody,
  ExecInspect,
  ImageInspect,
  ImageSummary,
  RegistryAuth,
} from "./types.ts";

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  /** Describes the call in error messages, e.g. "inspect image busybox". */
  what: string;
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** The CRI call's cancellation and deadline, carried to the engine request. */
  signal?: AbortSignal | undefined;
}

/** An engine response whose status is known; the body is the caller's to read or destroy. */
export interface DockerResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

/**
 * berth's one typed client for the Docker Engine API: every engine endpoint berth uses is a
 * method here. Every request goes through `#send`, which negotiates the API version once per engine lifetime, carries the caller's
 * AbortSignal to the HTTP request, and classifies failures by HTTP status.
 */
export class DockerClient {
  readonly #endpoint: DockerEndpoint;
  readonly #transport: Transport;
  #apiVersion: Promise<string> | undefined;
  /** When (performance.now()) a request last found the engine unreachable. */
  #lastOutage = Number.NEGATIVE_INFINITY;

  /**
   * `connections`: the pool's bound; null for unbounded (a client that holds one long
   * follow stream per container, as berth's log writers do).
   */
  constructor(endpoint: DockerEndpoint, options: { connections?: number | null } = {}) {
    this.#endpoint = endpoint;
    this.#transport = createTransport(
      endpoint,
      options.connections === undefined ? 64 : options.connections,
    );
  }

  async close(): Promise<void> {
    this.#transport.close();
  }

  /** The negotiated API version, e.g. "1.41". Renegotiated after the engine was unreachable. */
  apiVersion(signal?: AbortSignal): Promise<string> {
    if (!this.#apiVersion) {
      const negotiation = this.#negotiate(signal);
      this.#apiVersion = negotiation;
      negotiation.catch(() => {
        if (this.#apiVersion === negotiation) this.#apiVersion = undefined;
      });
    }
    return this.#apiVersion;
  }

  /**
   * Unversioned GET /version: every engine answers it whatever its minimum API version, and it
   * carries both ends of the range (/_ping's API-Version header has only the newest).
   */
  async #negotiate(signal?: AbortSignal): Promise<string> {
    const response = await this.#raw("GET", "/version", { what: "engine version", signal });
    const text = await readText(response.body);
    if (response.statusCode !== 200)
      throw dockerErrorFromResponse(response.statusCode, text, "engine version");
    let reported: Partial<EngineVersion>;
    try {
      reported = JSON.parse(text) as Partial<EngineVersion>;
    } catch {
      throw new DockerError(
        "FailedPrecondition",
        "Docker Engine answered GET /version with no JSON",
      );
    }
    if (typeof reported.ApiVersion !== "string" || reported.ApiVersion === "") {
      throw new DockerError("FailedPrecondition", "Docker Engine did not report its API version");
    }
    const min = typeof reported.MinAPIVersion === "string" ? reported.MinAPIVersion : undefined;
    try {
      return negotiateApiVersion(reported.ApiVersion, min);
    } catch (err) {
      throw new DockerError("FailedPrecondition", (err as Error).message);
    }
  }

  /** GET /_ping without version negotiation: true when the engine answers. */
  async ping(signal?: AbortSignal): Promise<void> {
    const response = await this.#raw("GET", "/_ping", { what: "ping", signal });
    const text = await readText(response.body);
    if (response.statusCode !== 200)
      throw dockerErrorFromResponse(response.statusCode, text, "ping");
  }

  /** A request whose body is ignored; fails on any non-2xx status. */
  async #call(method: string, path: string, options: RequestOptions): Promise<void> {
    const response = await this.#send(method, path, options);
    await this.#bodyOf(response, options);
  }

  async #json<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const response = await this.#send(method, path, options);
    return JSON.parse(await this.#bodyOf(response, options)) as T;
  }

  /** A body cut short is the engine going away mid-answer, like a failed connection. */
  async #bodyOf(response: DockerResponse, options: RequestOptions): Promise<string> {
    try {
      return await readText(response.body);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      this.#lastOutage = performance.now();
      throw dockerErrorFromTransport(err, options.what);
    }
  }

  /**
   * Sends a versioned request and returns the response once its status is known to be 2xx/304;
   * the body is the caller's to consume (streams: pulls, events, logs).
   */
  async #send(method: string, path: string, options: RequestOptions): Promise<DockerResponse> {
    const version = await this.apiVersion(options.signal);
    const sent = performance.now();
    const response = await this.#raw(method, `/v${version}${path}`, options);
    // 304: the engine says the container already is in the asked state (started, stopped).
    if ((response.statusCode >= 200 && response.statusCode < 300) || response.statusCode === 304) {
      return response;
    }
    const text = await readText(response.body).catch(() => "");
    const failure = dockerErrorFromResponse(response.statusCode, text, options.what);
    if (failure.kind === "Internal" && response.statusCode >= 500) {
      throw serverFailure(failure, await this.#liveness(sent));
    }
    throw failure;
  }

  /**
   * Whether the engine still takes new connections, and whether it was found unreachable
   * since `sent`: what tells a 5xx of an engine going down from one of a working engine.
   */
  async #liveness(sent: number): Promise<EngineLiveness> {
    let answersNewConnection = false;
    try {
      answersNewConnection = (await this.#transport.probe(AbortSignal.timeout(1000))) === 200;
    } catch {
      // refused, socket gone, or no answer within the second: not taking connections
    }
    if (!answersNewConnection) {
      this.#lastOutage = performance.now();
      // Nothing more goes to the engine over the connections it had: it keeps serving them
      // while it shuts down, and what it does then (creates, starts, removals) it does half.
      this.#transport.reconnect();
    }
    return { answersNewConnection, wentAwayMeanwhile: this.#lastOutage > sent };
  }

  async #raw(method: string, path: string, options: RequestOptions): Promise<DockerResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    const started = performance.now();
    try {
      // No timeouts here: streams (pulls, events, logs) stay quiet for long periods and their
      // callers watch progress themselves; plain calls are bounded by the CRI call's deadline.
      const response = await this.#transport.send(
        method,
        withQuery(path, options.query),
        headers,
        body,
        options.signal,
      );
      const statusCode = response.statusCode ?? 0;
      recordDockerRequest(method, path, statusCode, (performance.now() - started) / 1000);
      return { statusCode, headers: response.headers, body: response };
    } catch (err) {
      const aborted = options.signal?.aborted === true;
      const seconds = (performance.now() - started) / 1000;
      recordDockerRequest(method, path, aborted ? "cancelled" : "error", seconds);
      // The caller gave up (cancelled or past its deadline): say so, not "engine down".
      if (aborted) throw options.signal?.reason;
      const failure = dockerErrorFromTransport(err, options.what);
      // The engine may come back as a different version: negotiate again next time.
      if (failure instanceof DockerError) this.#apiVersion = undefined;
      this.#lastOutage = performance.now();
      throw failure;
    }
  }

  // ---- typed calls -------------------------------------------------------------------

  version(signal?: AbortSignal): Promise<EngineVersion> {
    return this.#json("GET", "/version", { what: "engine version", signal });
  }

  info(signal?: AbortSignal): Promise<EngineInfo> {
    return this.#json("GET", "/info", { what: "engine info", signal });
  }

  listImages(signal?: AbortSignal): Promise<ImageSummary[]> {
    return this.#json("GET", "/images/json", { what: "list images", signal });
  }

  inspectImage(ref: string, signal?: AbortSignal): Promise<ImageInspect> {
    return this.#json("GET", `/images/${encodeURIComponent(ref)}/json`, {
      what: `inspect image ${ref}`,
      signal,
    });
  }

  /**
   * Asks the image's registry, through the engine, for its manifest (what a pull would fetch
   * first) without pulling: answers the manifest's digest; fails as the registry does.
   */
  async inspectDistribution(ref: string, signal?: AbortSignal): Promise<{ digest: string }> {
    const answer = await this.#json<{ Descriptor?: { digest?: string } }>(
      "GET",
      `/distribution/${encodeURIComponent(ref)}/json`,
      { what: `look up ${ref} in its registry`, signal },
    );
    return { digest: answer.Descriptor?.digest ?? "" };
  }

  /** Inspects an image, answering undefined when the engine has no such image. */
  async findImage(ref: string, signal?: AbortSignal): Promise<ImageInspect | undefined> {
    try {
      return await this.inspectImage(ref, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Starts a pull; the caller reads the progress stream from the returned body. */
  async pullImage(
    fromImage: string,
    tag: string,
    auth: RegistryAuth | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = {};
    if (auth) headers["x-registry-auth"] = encodeRegistryAuth(auth);
    const response = await this.#send("POST", "/images/create", {
      what: `pull image ${fromImage}${tag.includes(":") ? "@" : ":"}${tag}`,
      query: { fromImage, tag },
      headers,
      signal,
    });
    return response.body;
  }

  removeImage(id: string, force: boolean, signal?: AbortSignal): Promise<void> {
    return this.#call("DELETE", `/images/${encodeURIComponent(id)}`, {
      what: `remove image ${id}`,
      query: { force, noprune: false },
      signal,
    });
  }

  inspectContainer(id: string, signal?: AbortSignal): Promise<ContainerInspect> {
    return this.#json("GET", `/containers/${encodeURIComponent(id)}/json`, {
      what: `inspect container ${id}`,
      signal,
    });
  }

  /** Inspects a container, answering undefined when the engine has no such container. */
  async findContainer(id: string, signal?: AbortSignal): Promise<ContainerInspect | undefined> {
    try {
      return await this.inspectContainer(id, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  createContainer(
    name: string,
    body: ContainerCreateBody,
    signal?: AbortSignal,
  ): Promise<{ Id: string; Warnings: string[] | null }> {
    return this.#json("POST", "/containers/create", {
      what: `create container ${name}`,
      query: { name },
      body,
      signal,
    });
  }

  /** Starting a running container is not an error (the engine answers 304). */
  startContainer(id: string, signal?: AbortSignal): Promise<void> {
    return this.#call("POST", `/containers/${encodeURIComponent(id)}/start`, {
      what: `start container ${id}`,
      signal,
    });
  }

  /** Stops with the container's stop signal, then SIGKILL after `timeoutSeconds`. */
  stopContainer(id: string, timeoutSeconds: number, signal?: AbortSignal): Promise<void> {
    return this.#call("POST", `/containers/${encodeURIComponent(id)}/stop`, {
      what: `stop container ${id}`,
      query: { t: Math.max(0, Math.trunc(timeoutSeconds)) },
      signal,
    });
  }

  killContainer(id: string, killSignal: string, signal?: AbortSignal): Promise<void> {
    return this.#call("POST", `/containers/${encodeURIComponent(id)}/kill`, {
      what: `kill container ${id}`,
      query: { signal: killSignal },
      signal,
    });
  }

  removeContainer(id: string, signal?: AbortSignal): Promise<void> {
    return this.#call("DELETE", `/containers/${encodeURIComponent(id)}`, {
      what: `remove container ${id}`,
      query: { force: true, v: true },
      signal,
    });
  }

  /**
   * One regular file of a container's filesystem (created, running or exited), read through
   * the engine's archive API; undefined when the path does not exist or is not a file.
   */
  async readContainerFile(
    id: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<Buffer | undefined> {
    let response: DockerResponse;
    try {
      response = await this.#send("GET", `/containers/${encodeURIComponent(id)}/archive`, {
        what: `read ${path} of container ${id}`,
        query: { path },
        signal,
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return firstFileOfTar(response.body);
  }

  updateContainer(id: string, body: object, signal?: AbortSignal): Promise<void> {
    return this.#call("POST", `/containers/${encodeURIComponent(id)}/update`, {
      what: `update container ${id}`,
      body,
      signal,
    });
  }

  listContainers(
    filters: Record<string, string[]>,
    signal?: AbortSignal,
  ): Promise<ContainerSummary[]> {
    return this.#json("GET", "/containers/json", {
      what: "list containers",
      query: { all: true, filters: JSON.stringify(filters) },
      signal,
    });
  }

  /**
   * Streams the engine's events from `since` (seconds, fractional) on: the body is one JSON
   * event per line, until `until` passes, the caller destroys it or the engine goes away.
   */
  async events(
    query: { since: number; until?: number; filters: Record<string, string[]> },
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const response = await this.#send("GET", "/events", {
      what: "follow engine events",
      query: {
        since: query.since.toFixed(3),
        until: query.until,
        filters: JSON.stringify(query.filters),
      },
      signal,
    });
    return response.body;
  }

  /** The container's log stream in the engine's multiplexed (or raw, with a tty) format. */
  async containerLogs(
    id: string,
    query: { follow?: boolean; since?: string; tail?: number },
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const response = await this.#send("GET", `/containers/${encodeURIComponent(id)}/logs`, {
      what: `read the log of container ${id}`,
      query: { stdout: true, stderr: true, timestamps: true, ...query },
      signal,
    });
    return response.body;
  }

  /** Resizes the tty of a container's main process (attach). */
  resizeContainer(id: string, size: { height: number; width: number }): Promise<void> {
    return this.#call("POST", `/containers/${encodeURIComponent(id)}/resize`, {
      what: `resize container ${id}`,
      query: { h: size.height, w: size.width },
    });
  }

  /** Attaches to a container's main process: its streams then flow on the returned socket. */
  async attachContainer(
    id: string,
    streams: { stdin: boolean; stdout: boolean; stderr: boolean },
    signal?: AbortSignal,
  ): Promise<{ socket: Socket; head: Buffer }> {
    const version = await this.apiVersion(signal);
    const query = new URLSearchParams({
      stream: "1",
      stdin: streams.stdin ? "1" : "0",
      stdout: streams.stdout ? "1" : "0",
      stderr: streams.stderr ? "1" : "0",
    });
    return hijack(
      this.#endpoint,
      "POST",
      `/v${version}/containers/${encodeURIComponent(id)}/attach?${query}`,
      undefined,
      `attach to container ${id}`,
      signal,
    );
  }

  async createExec(
    containerId: string,
    body: ExecCreateBody,
    signal?: AbortSignal,
  ): Promise<string> {
    const created = await this.#json<{ Id: string }>(
      "POST",
      `/containers/${encodeURIComponent(containerId)}/exec`,
      { what: `create exec in container ${containerId}`, body, signal },
    );
    return created.Id;
  }

  /** Starts an exec attached: its streams then flow on the returned socket. */
  async startExec(
    execId: string,
    tty: boolean,
    signal?: AbortSignal,
  ): Promise<{ socket: Socket; head: Buffer }> {
    const version = await this.apiVersion(signal);
    return hijack(
      this.#endpoint,
      "POST",
      `/v${version}/exec/${encodeURIComponent(execId)}/start`,
      { Detach: false, Tty: tty },
      `start exec ${execId}`,
      signal,
    );
  }

  inspectExec(execId: string, signal?: AbortSignal): Promise<ExecInspect> {
    return this.#json("GET", `/exec/${encodeURIComponent(execId)}/json`, {
      what: `inspect exec ${execId}`,
      signal,
    });
  }

  resizeExec(execId: string, size: { height: number; width: number }): Promise<void> {
    return this.#call("POST", `/exec/${encodeURIComponent(execId)}/resize`, {
      what: `resize exec ${execId}`,
      query: { h: size.height, w: size.width },
    });
  }
}

/**
 * X-Registry-Auth: base64url JSON, as the engine's API documents it. With padding: engines
 * up to at least 20.10 decode with Go's padded URL encoding and silently drop credentials
 * they cannot decode (the pull then runs anonymously).
 */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth), "utf8")
    .toString("base64")
    .replaceAll("+", "-")
    .replaceAll("/", "_");
}

function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text === "" ? path : `${path}?${text}`;
}

/** Reads a (small) response body as text. */
export async function readText(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

interface Transport {
  send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage>;
  /**
   * GET /_ping over a connection of its own, never a kept-alive one: an engine shutting
   * down still answers on the connections it has. Answers the HTTP status.
   */
  probe(signal: AbortSignal): Promise<number>;
  /**
   * Later requests go over new connections: the kept-alive ones are closed once idle (the
   * requests in flight on them finish or fail as the engine answers).
   */
  reconnect(): void;
  close(): void;
}

/**
 * HTTP/1.1 with keep-alive over the engine's socket, by Node's own http module: it parses
 * natively, where an HTTP library bringing its own parser cost berth ~25 MiB of memory.
 * Pulls and event streams hold connections for long; 64 keeps other calls unblocked.
 */
/**
 * A kept-alive connection unused for this long is closed. Node's agent keeps idle sockets
 * forever otherwise: the unbounded log client would hold as many as it ever had follows at
 * once. Node applies the agent's timeout to free sockets only: a long pull or event stream
 * that is quiet for longer is left alone.
 */
const IDLE_CONNECTION_MS = 10_000;

function createTransport(endpoint: DockerEndpoint, connections: number | null): Transport {
  const maxSockets = connections ?? Number.POSITIVE_INFINITY;
  const tls = endpoint.kind === "tcp" ? endpoint.tls : undefined;
  const tlsOptions = tls && {
    ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
    cert: tls.certFile ? readFileSync(tls.certFile) : undefined,
    key: tls.keyFile ? readFileSync(tls.keyFile) : undefined,
    rejectUnauthorized: tls.verify,
  };
  const agentOf = (keepAlive: boolean) =>
    tlsOptions
      ? new HttpsAgent({ keepAlive, maxSockets, timeout: IDLE_CONNECTION_MS, ...tlsOptions })
      : new nodeHttp.Agent({ keepAlive, maxSockets, timeout: IDLE_CONNECTION_MS });
  let agent = agentOf(true);
  const retired = new Set<HttpAgent>();
  const probeAgent = agentOf(false);
  const target =
    endpoint.kind === "unix"
      ? { socketPath: endpoint.socketPath, host: "docker" }
      : { host: endpoint.host, port: endpoint.port };
  const request = tls ? httpsRequest : nodeHttp.request;
  const send = (
    via: HttpAgent,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = request(
        { ...target, agent: via, method, path, headers, signal },
        (response) => resolve(response),
      );
      outgoing.once("error", reject);
      outgoing.end(body);
    });
  return {
    send: (method, path, headers, body, signal) => send(agent, method, path, headers, body, signal),
    probe: async (signal) => {
      const response = await send(probeAgent, "GET", "/_ping", {}, undefined, signal);
      response.resume();
      return response.statusCode ?? 0;
    },
    reconnect: () => {
      const old = agent;
      agent = agentOf(true);
      // No free socket kept: each one is closed as its request is done with it.
      old.maxFreeSockets = 0;
      for (const sockets of Object.values(old.freeSockets)) {
        for (const socket of sockets ?? []) socket.destroy();
      }
      // Kept for close() while requests are in flight on them; bounded, as they end.
      for (const earlier of retired) {
        if (Object.keys(earlier.sockets).length === 0) retired.delete(earlier);
      }
      retired.add(old);
    },
    close: () => {
      agent.destroy();
      for (const old of retired) old.destroy();
      probeAgent.destroy();
    },
  };
}
