import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { collectDefaultMetrics, Gauge } from "prom-client";
import type { DockerEngine } from "../docker/engine.ts";
import { registry } from "../metrics/registry.ts";
import type { StateStore } from "../store/state-store.ts";
import { parseBindAddress } from "../streaming/bind-address.ts";
import { nodeHttp } from "../util/node-http.ts";
import { criProbe } from "./cri-probe.ts";
import { Health } from "./health.ts";
import { type ObjectStates, objectStates } from "./object-states.ts";

const PING_TIMEOUT_MS = 2_000;

export interface BerthMetricsOptions {
  /** `--metrics-bind-address`. */
  bindAddress: string;
  /** berth's CRI endpoint, probed for /healthz. */
  listen: string;
  /** False once the gRPC server began to drain. */
  serving: () => boolean;
  docker: Pick<DockerEngine, "ping">;
  store: StateStore;
  log: Logger;
}

/** berth's metrics server, as main.ts starts it with --metrics-bind-address. */
export function startMetricsServer(options: BerthMetricsOptions): Promise<MetricsServer> {
  const { docker, store } = options;
  const health = new Health({
    docker: () => docker.ping(AbortSignal.timeout(PING_TIMEOUT_MS)).then(() => undefined),
    cri: criProbe(options.listen, options.serving),
  });
  return serveMetrics({
    bindAddress: options.bindAddress,
    health,
    objectStates: () => objectStates(store),
    log: options.log,
  });
}

export interface MetricsServerOptions {
  /** `--metrics-bind-address`: HOST:PORT, [IPV6]:PORT or :PORT; port 0 takes a free one. */
  bindAddress: string;
  health: Health;
  /** Counted at scrape time. */
  objectStates: () => ObjectStates;
  log: Logger;
}

export interface MetricsServer {
  /** The bound host and port, e.g. "127.0.0.1:9090". */
  address: string;
  port: number;
  stop(): Promise<void>;
}

let scrapeTimeMetrics = false;

/**
 * Serves Prometheus' text format on GET /metrics and berth's health on GET /healthz (200
 * "ok" while the engine answers and the CRI socket serves, else 503 with the reasons).
 * Started after the gRPC server, stopped before it drains.
 */
export async function serveMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseBindAddress(options.bindAddress);
  registerScrapeTimeMetrics(options.objectStates);
  const server = nodeHttp.createServer((request, response) => {
    handle(request, response, options).catch((err: unknown) => {
      options.log.warn({ err }, "metrics request failed");
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end("internal error\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host === "" ? undefined : host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`;
  // Tests and operators with port 0 learn the real port from this line.
  options.log.info({ address, port: bound.port }, "serving metrics");
  return {
    address,
    port: bound.port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: MetricsServerOptions,
): Promise<void> {
  const path = new URL(request.url ?? "/", "http://berth").pathname;
  if (path !== "/metrics" && path !== "/healthz") {
    response.writeHead(404, { "content-type": "text/plain" });
    response.end("not found: berth serves /metrics and /healthz\n");
    return;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" });
    response.end("method not allowed\n");
    return;
  }
  if (path === "/healthz") {
    const report = await options.health.check();
    response.writeHead(report.healthy ? 200 : 503, { "content-type": "text/plain" });
    response.end(report.healthy ? "ok\n" : `${report.reasons.join("\n")}\n`);
    return;
  }
  const text = await registry.metrics();
  response.writeHead(200, { "content-type": registry.contentType });
  response.end(request.method === "HEAD" ? undefined : text);
}

/**
 * The gauges computed when scraped, and the process metrics, under their standard names
 * (process_*, nodejs_*), which dashboards and alerts for any exporter already use; the job
 * label tells berth's apart. Registered once, and only when metrics are served.
 */
function registerScrapeTimeMetrics(objectStates: () => ObjectStates): void {
  if (scrapeTimeMetrics) return;
  scrapeTimeMetrics = true;
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "berth_pod_sandboxes",
    help: "berth's pod sandboxes by the state the CRI reports (ready, notready).",
    labelNames: ["sandbox_state"] as const,
    registers: [registry],
    collect() {
      const { sandboxes } = objectStates();
      for (const [state, count] of Object.entries(sandboxes))
        this.set({ sandbox_state: state }, count);
    },
  });
  new Gauge({
    name: "berth_containers",
    help: "berth's containers by the state the CRI reports (created, running, exited, unknown).",
    labelNames: ["container_state"] as const,
    registers: [registry],
    collect() {
      const { containers } = objectStates();
      for (const [state, count] of Object.entries(containers)) {
        this.set({ container_state: state }, count);
      }
    },
  });
}
