import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { PassThrough, Readable } from "node:stream";
import type { DockerEngine } from "../../src/docker/engine.ts";
import { DockerError, kindOfStatus } from "../../src/docker/errors.ts";
import type {
  ContainerCreateBody,
  ContainerInspect,
  ContainerState,
  ContainerSummary,
  EngineEvent,
  EngineInfo,
  EngineVersion,
  ExecCreateBody,
  ExecInspect,
  ImageInspect,
  ImageSummary,
  RegistryAuth,
} from "../../src/docker/types.ts";

/**
 * An in-memory Docker Engine for handler and store tests: containers with labels, names and
 * Docker's state transitions, images, an event stream the test feeds, and exec records.
 * Every call is recorded; a test makes the next matching call fail with a real DockerError
 * (`failNext`). Endpoints no test needs throw a clear "not faked" error.
 */

export type EngineMethod = keyof DockerEngine;

export interface EngineCall {
  method: EngineMethod;
  /** The call's first argument (an id, a name or a ref), when it has one. */
  target: string | undefined;
}

interface Failure {
  method: EngineMethod;
  target: string | undefined;
  error: Error;
}

const NEVER = "0001-01-01T00:00:00Z";

/** A DockerError as the real client makes it from an HTTP status. */
export function engineError(statusCode: number, message: string): DockerError {
  return new DockerError(kindOfStatus(statusCode), message, statusCode);
}

export function sha256Id(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

export class FakeEngine implements DockerEngine {
  readonly calls: EngineCall[] = [];
  readonly containers = new Map<string, ContainerInspect>();
  readonly images = new Map<string, ImageInspect>();
  /** What a pull of "repository:tag" (or "repository@digest") brings in. */
  readonly registry = new Map<string, Omit<ImageInspect, "RepoTags">>();
  readonly execs = new Map<string, ExecInspect>();
  apiVersionAnswer = "1.41";
  versionAnswer: EngineVersion = {
    Version: "20.10.24",
    ApiVersion: "1.41",
    MinAPIVersion: "1.12",
    Os: "linux",
    Arch: "amd64",
  };
  infoAnswer: EngineInfo = {
    DockerRootDir: "/var/lib/docker",
    CgroupDriver: "cgroupfs",
    CgroupVersion: "1",
    Driver: "overlay2",
    KernelVersion: "6.1.0",
    ServerVersion: "20.10.24",
    SecurityOptions: ["name=seccomp,profile=default"],
    Runtimes: { runc: {} },
    DefaultRuntime: "runc",
  };
  /** Container names (or ids) whose next start leaves them exited at once (a dying process). */
  readonly exitOnStart = new Set<string>();
  #failures: Failure[] = [];
  #held: Promise<void> | undefined;
  #startFailures = new Map<string, { message: string; statusCode: number }>();
  #eventStreams = new Set<PassThrough>();
  #sequence = 0;
  #pid = 1000;
  #clock = Date.parse("2026-01-01T00:00:00Z");

  /** The next call of `method` (on `target`, when given) fails with `error`, once. */
  failNext(method: EngineMethod, error: Error, target?: string): void {
    this.#failures.push({ method, target, error });
  }

  /**
   * The next start of `target` fails as the engine's does when the runtime cannot run the
   * process: HTTP `statusCode`, and the container stays "created" with the error and exit
   * code 128 recorded in its state.
   */
  failNextStart(target: string, message: string, statusCode = 500): void {
    this.#startFailures.set(target, { message, statusCode });
  }

  /**
   * The next findContainer answers what it saw when called, but only once the test calls
   * the returned release: lets a test overtake a call in flight.
   */
  holdNextFind(): () => void {
    let release: () => void = () => {};
    this.#held = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }

  /** How many times `method` was called (on `target`, when given). */
  count(method: EngineMethod, target?: string): number {
    return this.calls.filter(
      (call) => call.method === method && (target === undefined || call.target === target),
    ).length;
  }

  /** Adds an image under its tags; answers its ID. */
  addImage(tags: string[], config: ImageInspect["Config"] = {}, digests: string[] = []): string {
    const Id = `sha256:${sha256Id(tags.join(",") || `image-${this.#sequence++}`)}`;
    this.images.set(Id, {
      Id,
      RepoTags: tags,
      RepoDigests: digests,
      Created: new Date(this.#clock).toISOString(),
      Size: 1234,
      Architecture: "amd64",
      Os: "linux",
      Config: config,
      RootFS: { Type: "layers", Layers: [] },
    });
    return Id;
  }

  /** Writes one event to every open event stream. */
  pushEvent(event: Partial<EngineEvent> & { Action: string; id: string }): void {
    const now = Date.now();
    const line: EngineEvent = {
      Type: "container",
      Actor: { ID: event.id, Attributes: {} },
      time: Math.floor(now / 1000),
      timeNano: now * 1_000_000,
      ...event,
    };
    for (const stream of this.#eventStreams) stream.write(`${JSON.stringify(line)}\n`);
  }

  /** Ends every open event stream, as an engine restart does. */
  endEvents(): void {
    for (const stream of this.#eventStreams) stream.end();
    this.#eventStreams.clear();
  }

  get openEventStreams(): number {
    return this.#eventStreams.size;
  }

  /** Changes a container's state behind berth's back (it exited, it was killed). */
  setExited(id: string, exitCode: number, error = ""): void {
    const container = this.#container(id, "set state");
    Object.assign(container.State, {
      Status: "exited",
      Running: false,
      Pid: 0,
      ExitCode: exitCode,
      Error: error,
      FinishedAt: this.#now(),
    } satisfies Partial<ContainerState>);
  }

  #record(method: EngineMethod, target?: string): void {
    this.calls.push({ method, target });
    const index = this.#failures.findIndex(
      (failure) =>
        failure.method === method && (failure.target === undefined || failure.target === target),
    );
    if (index >= 0) {
      const [failure] = this.#failures.splice(index, 1);
      if (failure) throw failure.error;
    }
  }

  #now(): string {
    this.#clock += 1000;
    return new Date(this.#clock).toISOString();
  }

  #container(id: string, what: string): ContainerInspect {
    const container = this.containers.get(id) ?? this.#byName(id) ?? this.#byPrefix(id);
    if (!container) throw engineError(404, `${what} ${id}: No such container: ${id}`);
    return container;
  }

  #byName(name: string): ContainerInspect | undefined {
    for (const container of this.containers.values()) {
      if (container.Name === `/${name}`) return container;
    }
    return undefined;
  }

  #byPrefix(prefix: string): ContainerInspect | undefined {
    if (prefix.length < 4) return undefined;
    const matches = [...this.containers.values()].filter((c) => c.Id.startsWith(prefix));
    return matches.length === 1 ? matches[0] : undefined;
  }

  #image(ref: string): ImageInspect | undefined {
    for (const image of this.images.values()) {
      if (image.Id === ref || image.Id === `sha256:${ref}`) return image;
      if (image.RepoTags?.includes(ref) || image.RepoDigests?.includes(ref)) return image;
      // The engine also answers for "docker.io/library/x:tag" when the tag is "x:tag".
      const short = ref.replace(/^docker\.io\/(library\/)?/, "");
      if (image.RepoTags?.includes(short)) return image;
    }
    return undefined;
  }

  // ---- engine ------------------------------------------------------------------------

  async apiVersion(): Promise<string> {
    this.#record("apiVersion");
    return this.apiVersionAnswer;
  }

  async ping(): Promise<void> {
    this.#record("ping");
  }

  async version(): Promise<EngineVersion> {
    this.#record("version");
    return structuredClone(this.versionAnswer);
  }

  async info(): Promise<EngineInfo> {
    this.#record("info");
    return structuredClone(this.infoAnswer);
  }

  // ---- images ------------------------------------------------------------------------

  async listImages(): Promise<ImageSummary[]> {
    this.#record("listImages");
    return [...this.images.values()].map((image) => ({
      Id: image.Id,
      RepoTags: image.RepoTags,
      RepoDigests: image.RepoDigests,
      Created: Math.floor(Date.parse(image.Created) / 1000),
      Size: image.Size,
      Labels: image.Config?.Labels ?? null,
    }));
  }

  async inspectImage(ref: string): Promise<ImageInspect> {
    this.#record("inspectImage", ref);
    const image = this.#image(ref);
    if (!image) throw engineError(404, `inspect image ${ref}: No such image: ${ref}`);
    return structuredClone(image);
  }

  /** The registry's manifest digest of a reference the fake registry holds. */
  async inspectDistribution(ref: string): Promise<{ digest: string }> {
    this.#record("inspectDistribution", ref);
    const source = this.registry.get(ref);
    if (!source) throw engineError(404, `look up ${ref} in its registry: manifest unknown`);
    return { digest: `sha256:${sha256Id(`manifest-${source.Id}`)}` };
  }

  async findImage(ref: string): Promise<ImageInspect | undefined> {
    this.#record("findImage", ref);
    const image = this.#image(ref);
    return image && structuredClone(image);
  }

  /**
   * Pulls from `registry`: the progress stream ends with an error line when the registry
   * lacks the reference, as the engine's does.
   */
  async pullImage(
    fromImage: string,
    tag: string,
    _auth: RegistryAuth | undefined,
    _signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const ref = tag.includes(":") ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
    this.#record("pullImage", ref);
    const source = this.registry.get(ref);
    const lines: object[] = [{ status: `Pulling from ${fromImage}`, id: tag }];
    if (source) {
      const existing = this.images.get(source.Id);
      const tags = new Set(existing?.RepoTags ?? []);
      // The engine names Docker Hub's official images by their short name.
      if (!tag.includes(":")) tags.add(ref.replace(/^docker\.io\/(library\/)?/, ""));
      this.images.set(source.Id, { ...structuredClone(source), RepoTags: [...tags] });
      lines.push({ status: `Status: Downloaded newer image for ${ref}` });
    } else {
      lines.push({
        error: `manifest for ${ref} not found`,
        errorDetail: { message: `manifest for ${ref} not found: manifest unknown` },
      });
    }
    return Readable.from(
      lines.map((line) => `${JSON.stringify(line)}\n`),
    ) as unknown as IncomingMessage;
  }

  async removeImage(id: string, force: boolean): Promise<void> {
    this.#record("removeImage", id);
    const image = this.#image(id);
    if (!image) throw engineError(404, `remove image ${id}: No such image: ${id}`);
    const user = [...this.containers.values()].find((c) => c.Image === image.Id);
    if (user && (!force || user.State.Running)) {
      throw engineError(409, `remove image ${id}: image is being used by container ${user.Id}`);
    }
    this.images.delete(image.Id);
  }

  // ---- containers --------------------------------------------------------------------

  async inspectContainer(id: string): Promise<ContainerInspect> {
    this.#record("inspectContainer", id);
    return structuredClone(this.#container(id, "inspect container"));
  }

  async findContainer(id: string): Promise<ContainerInspect | undefined> {
    this.#record("findContainer", id);
    // The engine resolves a name as well as an id (or a prefix of one).
    const container = this.containers.get(id) ?? this.#byPrefix(id) ?? this.#byName(id);
    const answer = container && structuredClone(container);
    const held = this.#held;
    this.#held = undefined;
    await held;
    return answer;
  }

  async createContainer(
    name: string,
    body: ContainerCreateBody,
  ): Promise<{ Id: string; Warnings: string[] | null }> {
    this.#record("createContainer", name);
    if (this.#byName(name)) {
      throw engineError(409, `create container ${name}: Conflict. The container name is in use`);
    }
    const image = this.#image(body.Image);
    if (!image) throw engineError(404, `create container ${name}: No such image: ${body.Image}`);
    const Id = sha256Id(`container-${this.#sequence++}-${name}`);
    const { HostConfig, ...config } = structuredClone(body);
    this.containers.set(Id, {
      Id,
      Created: this.#now(),
      Path: body.Entrypoint?.[0] ?? body.Cmd?.[0] ?? "",
      Args: [],
      State: {
        Status: "created",
        Running: false,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: 0,
        ExitCode: 0,
        Error: "",
        StartedAt: NEVER,
        FinishedAt: NEVER,
      },
      Image: image.Id,
      ResolvConfPath: `/var/lib/docker/containers/${Id}/resolv.conf`,
      HostnamePath: `/var/lib/docker/containers/${Id}/hostname`,
      HostsPath: `/var/lib/docker/containers/${Id}/hosts`,
      LogPath: "",
      Name: `/${name}`,
      RestartCount: 0,
      Driver: "overlay2",
      HostConfig: HostConfig ?? {},
      Config: { ...config, Labels: config.Labels ?? {} },
      Mounts: [],
      NetworkSettings: { SandboxKey: "" },
    });
    return { Id, Warnings: null };
  }

  /** A running container answers as the engine's 304 does: success, nothing changes. */
  async startContainer(id: string): Promise<void> {
    this.#record("startContainer", id);
    const container = this.#container(id, "start container");
    if (container.State.Running) return;
    const failure = this.#startFailures.get(id);
    if (failure) {
      this.#startFailures.delete(id);
      Object.assign(container.State, { ExitCode: 128, Error: failure.message });
      throw engineError(failure.statusCode, `start container ${id}: ${failure.message}`);
    }
    const startedAt = this.#now();
    if (
      this.exitOnStart.delete(container.Id) ||
      this.exitOnStart.delete(container.Name.replace(/^\//, ""))
    ) {
      Object.assign(container.State, {
        Status: "exited",
        Running: false,
        Pid: 0,
        ExitCode: 1,
        StartedAt: startedAt,
        FinishedAt: this.#now(),
      } satisfies Partial<ContainerState>);
      return;
    }
    Object.assign(container.State, {
      Status: "running",
      Running: true,
      Pid: this.#pid++,
      ExitCode: 0,
      Error: "",
      StartedAt: startedAt,
      FinishedAt: NEVER,
    } satisfies Partial<ContainerState>);
  }

  async stopContainer(id: string, _timeoutSeconds: number): Promise<void> {
    this.#record("stopContainer", id);
    const container = this.#container(id, "stop container");
    if (!container.State.Running) return;
    this.setExited(container.Id, 137);
  }

  async killContainer(id: string, _killSignal: string): Promise<void> {
    this.#record("killContainer", id);
    const container = this.#container(id, "kill container");
    if (!container.State.Running) {
      throw engineError(409, `kill container ${id}: Container ${id} is not running`);
    }
    this.setExited(container.Id, 137);
  }

  async removeContainer(id: string): Promise<void> {
    this.#record("removeContainer", id);
    const container = this.#container(id, "remove container");
    this.containers.delete(container.Id);
  }

  async updateContainer(id: string, body: object): Promise<void> {
    this.#record("updateContainer", id);
    const container = this.#container(id, "update container");
    Object.assign(container.HostConfig, body);
  }

  async listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]> {
    this.#record("listContainers");
    return [...this.containers.values()]
      .filter((container) => matches(container, filters))
      .map((container) => ({
        Id: container.Id,
        Names: [container.Name],
        Image: container.Config.Image,
        ImageID: container.Image,
        State: container.State.Status,
        Labels: container.Config.Labels,
        Created: Math.floor(Date.parse(container.Created) / 1000),
      }));
  }

  /** An open stream of the events `pushEvent` writes, until `endEvents` or the signal. */
  async events(
    _query: { since: number; until?: number; filters: Record<string, string[]> },
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    this.#record("events");
    const stream = new PassThrough();
    this.#eventStreams.add(stream);
    const close = () => {
      this.#eventStreams.delete(stream);
      stream.destroy(signal?.reason as Error | undefined);
    };
    if (signal?.aborted) close();
    else signal?.addEventListener("abort", close, { once: true });
    stream.once("end", () => this.#eventStreams.delete(stream));
    return stream as unknown as IncomingMessage;
  }

  async containerLogs(id: string): Promise<IncomingMessage> {
    this.#record("containerLogs", id);
    throw notFaked("containerLogs");
  }

  /** Files of a container's filesystem a test put there; undefined for any other path. */
  readonly files = new Map<string, Buffer>();

  async readContainerFile(id: string, path: string): Promise<Buffer | undefined> {
    this.#record("readContainerFile", id);
    const container = this.#container(id, `read ${path} of container`);
    return this.files.get(`${container.Id}:${path}`);
  }

  async resizeContainer(id: string): Promise<void> {
    this.#record("resizeContainer", id);
    throw notFaked("resizeContainer");
  }

  async attachContainer(id: string): Promise<{ socket: Socket; head: Buffer }> {
    this.#record("attachContainer", id);
    throw notFaked("attachContainer");
  }

  // ---- exec --------------------------------------------------------------------------

  async createExec(containerId: string, body: ExecCreateBody): Promise<string> {
    this.#record("createExec", containerId);
    const container = this.#container(containerId, "create exec in container");
    if (!container.State.Running) {
      throw engineError(409, `create exec: Container ${containerId} is not running`);
    }
    const ID = sha256Id(`exec-${this.#sequence++}`);
    this.execs.set(ID, {
      ID,
      Running: false,
      ExitCode: null,
      Pid: 0,
      ContainerID: container.Id,
      ProcessConfig: {
        entrypoint: body.Cmd[0] ?? "",
        arguments: body.Cmd.slice(1),
        tty: body.Tty ?? false,
      },
    });
    return ID;
  }

  async startExec(execId: string): Promise<{ socket: Socket; head: Buffer }> {
    this.#record("startExec", execId);
    throw notFaked("startExec");
  }

  async inspectExec(execId: string): Promise<ExecInspect> {
    this.#record("inspectExec", execId);
    const exec = this.execs.get(execId);
    if (!exec) throw engineError(404, `inspect exec ${execId}: No such exec instance`);
    return structuredClone(exec);
  }

  async resizeExec(execId: string): Promise<void> {
    this.#record("resizeExec", execId);
    throw notFaked("resizeExec");
  }
}

function notFaked(method: string): Error {
  return new Error(`FakeEngine: ${method} is not faked; a test that needs it must fake it`);
}

/** Docker's list filters berth uses: label (key or key=value), ancestor, id, name. */
function matches(container: ContainerInspect, filters: Record<string, string[]>): boolean {
  const labels = container.Config.Labels ?? {};
  for (const wanted of filters.label ?? []) {
    const [key = "", value] = wanted.split("=", 2);
    if (!(key in labels)) return false;
    if (value !== undefined && labels[key] !== value) return false;
  }
  for (const image of filters.ancestor ?? []) {
    if (container.Image !== image && container.Config.Image !== image) return false;
  }
  for (const id of filters.id ?? []) if (!container.Id.startsWith(id)) return false;
  for (const name of filters.name ?? []) if (!container.Name.includes(name)) return false;
  return true;
}
