import type { DescService } from "@bufbuild/protobuf";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { listenWithAuthorityRewrite } from "./authority-listener.ts";
import { grpcImplementation, grpcServiceDefinition } from "./grpc-service.ts";
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
export async function claimListenAddress(listen: string): Promise<ListenClaim> {
  const socketPath = listen.startsWith("unix://") ? listen.slice("unix://".length) : undefined;
  const claim = socketPath ? await claimSocketPath(socketPath) : undefined;
  return { listen, socketPath, release: async () => claim?.release() };
}

export interface ListenClaim {
  listen: string;
  socketPath: string | undefined;
  release(): Promise<void>;
}

export async function startGrpcServer(
  claim: ListenClaim,
  services: ServedService[],
  log: Logger,
): Promise<RunningServer> {
  const { listen, socketPath } = claim;
  const server = new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  for (const { service, handlers } of services) {
    server.addService(grpcServiceDefinition(service), grpcImplementation(service, handlers, log));
  }

  // The socket must never exist with looser permissions than 0660, not even briefly.
  const previousUmask = socketPath ? process.umask(0o117) : undefined;
  let listener: { close(): Promise<void> } | undefined;
  try {
    if (socketPath) {
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
  log.info({ listen }, "serving CRI");

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
