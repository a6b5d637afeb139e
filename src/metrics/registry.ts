import { Registry } from "prom-client";

/**
 * berth's own registry, not prom-client's global one: what /metrics shows is exactly what
 * berth defines (and a library registering into the global registry cannot leak into it).
 * Instruments are always defined, and cost a few hash lookups when recorded; the HTTP server,
 * the process metrics and the gauges computed at scrape time exist only with
 * --metrics-bind-address.
 */
export const registry = new Registry();
