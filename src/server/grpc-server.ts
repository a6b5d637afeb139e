import type { DescService } from "@bufbuild/protobuf";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { listenWithAuthorityRewrite } from "./authority-listener.ts";
import { type CallOptions, grpcImplementation, grpcServiceDefinition } from "./grpc-service.ts";
import { type ActivatedSocket, selectActivatedSocket } from "./socket-activation.ts";
import { claimSocketPath, restrictSocket } from "./unix-socket.ts";

/**
 * The kubelet's CRI client accepts answers up to 16 MiB; ListContainers on a busy node
 * (hundreds of containers with labels and annotations) approaches that, so berth allows the
 * same both ways.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** How long SIGTERM waits for in-flight calls (long pulls included) before cutting them. */
const DRAIN_TIMEOUT_MS = 10_000;

export interface ServedService {
  service: DescService;
  handlers: Record<string, (...args: never[]) => Promise<unknown>>;
}

export interface RunningServer {
  address: string;
  stop(): Promise<void>;
}

/**
 * Claims the listen address before anything else starts, so that a second berth on the same
 * socket is refused at once; answers the claim startGrpcServer binds on.
 */
export async function claimListenAddress(
  listen: string,
  activated: ActivatedSocket[] = [],
): Promise<ListenClaim> {
  if (listen.startsWith("fd://")) {
    // systemd owns a passed socket: its path, mode and lifetime are the socket unit's.
    const fd = selectActivatedSocket(listen, activated);
    return { listen, socketPath: undefined, fd, release: async () => {} };
  }
  const socketPath = listen.startsWith("unix://") ? listen.slice("unix://".length) : undefined;
  const claim = socketPath ? await claimSocketPath(socketPath) : undefined;
  return { listen, socketPath, fd: undefined, release: async () => claim?.release() };
}

export interface ListenClaim {
  listen: string;
  socketPath: string | undefined;
  /** A listening socket passed by systemd (fd://). */
  fd: number | undefined;
  release(): Promise<void>;
}

export async function startGrpcServer(
  claim: ListenClaim,
  services: ServedService[],
  log: Logger,
  callOptions: CallOptions = {},
): Promise<RunningServer> {
  const { listen, socketPath } = claim;
  const server = new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  for (const { service, handlers } of services) {
    server.addService(
      grpcServiceDefinition(service),
      grpcImplementation(service, handlers, log, callOptions),
    );
  }

  // The socket must never exist with looser permissions than 0660, not even briefly.
  const previousUmask = socketPath ? process.umask(0o117) : undefined;
  let listener: { close(): Promise<void> } | undefined;
  try {
    if (claim.fd !== undefined) {
      // grpc-js cannot bind a file descriptor; berth's own listener accepts on it.
      listener = await listenWithAuthorityRewrite(server, { fd: claim.fd });
    } else if (socketPath) {
      listener = await listenWithAuthorityRewrite(server, { path: socketPath });
      await restrictSocket(socketPath);
    } else {
      await new Promise<number>((resolve, reject) =>
        server.bindAsync(listen, ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port),
        ),
      );
    }
  } catch (err) {
    await listener?.close();
    await claim.release();
    throw err;
  } finally {
    if (previousUmask !== undefined) process.umask(previousUmask);
  }
  log.info({ listen, ...(claim.fd !== undefined ? { fd: claim.fd } : {}) }, "serving CRI");

  let stopping: Promise<void> | undefined;
  return {
    address: listen,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            log.warn("in-flight calls did not finish in time; cancelling them");
            server.forceShutdown();
            resolve();
          }, DRAIN_TIMEOUT_MS);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await listener?.close();
        await claim.release();
      })();
      return stopping;
    },
  };
}
