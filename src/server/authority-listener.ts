import { createServer, type ListenOptions, type Server as NetServer } from "node:net";
import { type Server, ServerCredentials } from "@grpc/grpc-js";
import { withAuthorityRewrite } from "./authority-rewrite.ts";
import { sniffConnection } from "./connection-sniffer.ts";

/**
 * Serves `server` on a listener of berth's own instead of grpc-js's bindAsync, so that every
 * connection is sniffed (connection-sniffer.ts) before grpc-js sees it: those of old kubelets
 * pass through withAuthorityRewrite (their `:authority`), the others are handed over as they are. Used for unix sockets, where those kubelets connect (a path, or the fd systemd passes); grpc-js's shutdown still
 * closes the connections (the injector's sessions are the server's).
 */
export async function listenWithAuthorityRewrite(
  server: Server,
  listen: ListenOptions | { fd: number },
): Promise<{ close(): Promise<void> }> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener: NetServer = createServer((socket) => {
    sniffConnection(socket).then(
      (route) =>
        injector.injectConnection(
          route.kind === "native" ? socket : withAuthorityRewrite(socket, route),
        ),
      // The sniffer closed the connection: not an HTTP/2 client, or one that left.
      () => {},
    );
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(listen, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => resolve());
      }),
  };
}
