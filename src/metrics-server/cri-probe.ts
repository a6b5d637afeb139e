import { createConnection } from "node:net";
import type { Probe } from "./health.ts";

const CONNECT_TIMEOUT_MS = 1_000;

/**
 * Whether the CRI endpoint serves: berth's gRPC server is up (not draining for shutdown) and
 * its socket accepts a connection, so a socket file removed under berth, or a port taken
 * away, shows as unhealthy rather than as a live process.
 */
export function criProbe(listen: string, serving: () => boolean): Probe {
  const target = listen.startsWith("unix://")
    ? { path: listen.slice("unix://".length) }
    : tcpTarget(listen);
  return async () => {
    if (!serving()) return "the CRI server is shutting down";
    return new Promise<string | undefined>((resolve) => {
      const socket = createConnection(target);
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
        socket.destroy();
        resolve(`${listen} did not accept a connection within ${CONNECT_TIMEOUT_MS} ms`);
      });
      socket.once("connect", () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once("error", (err) => resolve(`${listen}: ${err.message}`));
    });
  };
}

function tcpTarget(listen: string): { host: string; port: number } {
  const url = new URL(listen.replace(/^tcp:/, "http:"));
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port) };
}
