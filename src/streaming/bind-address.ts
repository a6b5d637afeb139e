import { isIPv6 } from "node:net";

/**
 * `--streaming-bind-addr` values: `HOST:PORT`, `[IPV6]:PORT`, or `:PORT` (all interfaces).
 * Port 0 asks the kernel for a free one.
 */
export function parseBindAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new Error(
      `streaming bind address ${JSON.stringify(text)}: expected HOST:PORT or [IPV6]:PORT`,
    );
  }
  const host = match[1] ?? match[2] ?? "";
  if (match[1] !== undefined && !isIPv6(host)) {
    throw new Error(
      `streaming bind address ${JSON.stringify(text)}: ${host} is not an IPv6 address`,
    );
  }
  return { host, port };
}

/**
 * The host to put in the URLs berth hands out for a bound address. Clients need an absolute
 * URL; a wildcard bind is reached on this node's loopback, which is where the kubelet and
 * crictl run.
 */
export function urlHost(boundAddress: string): string {
  if (boundAddress === "0.0.0.0" || boundAddress === "") return "127.0.0.1";
  if (boundAddress === "::") return "[::1]";
  return isIPv6(boundAddress) ? `[${boundAddress}]` : boundAddress;
}
