import { findContainer, type StreamingDocker } from "./docker-calls.ts";

/** What the streaming RPCs need to know about a container. */
export interface StreamingContainer {
  id: string;
  running: boolean;
  /** Created with a tty: attach output is then raw rather than multiplexed. */
  tty: boolean;
  /** Created with stdin open: only then does attach carry stdin. */
  stdin: boolean;
}

/** What PortForward needs to know about a sandbox. */
export interface StreamingSandbox {
  id: string;
  ready: boolean;
  /** The pod's network namespace; undefined for host-network pods (the host's own). */
  netnsPath: string | undefined;
}

/**
 * How the streaming RPCs find containers and sandboxes. Injected, so berth's state store can
 * answer instead of the engine.
 */
export interface StreamingLookup {
  container(id: string, signal?: AbortSignal): Promise<StreamingContainer | undefined>;
  sandbox(id: string, signal?: AbortSignal): Promise<StreamingSandbox | undefined>;
}

/**
 * The lookup straight from `docker inspect`: a sandbox is the pod's pause container, whose
 * process holds the pod's network namespace.
 */
export class DockerStreamingLookup implements StreamingLookup {
  readonly #docker: StreamingDocker;

  constructor(docker: StreamingDocker) {
    this.#docker = docker;
  }

  async container(id: string, signal?: AbortSignal): Promise<StreamingContainer | undefined> {
    const inspect = await findContainer(this.#docker, id, signal);
    if (!inspect) return undefined;
    return {
      id: inspect.Id,
      running: inspect.State.Running && !inspect.State.Restarting,
      tty: inspect.Config.Tty === true,
      stdin: inspect.Config.OpenStdin === true,
    };
  }

  async sandbox(id: string, signal?: AbortSignal): Promise<StreamingSandbox | undefined> {
    const inspect = await findContainer(this.#docker, id, signal);
    if (!inspect) return undefined;
    const running = inspect.State.Running && inspect.State.Pid > 0;
    return {
      id: inspect.Id,
      ready: running,
      netnsPath:
        inspect.HostConfig.NetworkMode === "host" ? undefined : `/proc/${inspect.State.Pid}/ns/net`,
    };
  }
}
