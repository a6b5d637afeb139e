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
