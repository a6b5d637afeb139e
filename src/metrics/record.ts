import { status } from "@grpc/grpc-js";
import { engineRoute } from "./engine-route.ts";
import {
  dockerOperationDuration,
  dockerOperations,
  imagePullBytes,
  imagePullDuration,
  imagePulls,
  networkPluginDuration,
  networkPluginErrors,
  type PullResult,
  runtimeOperationDuration,
  runtimeOperations,
} from "./instruments.ts";

/**
 * Records one RPC's calls. Built once per method when the service is wired, so a call pays
 * one histogram observation and one counter increment on children looked up once.
 */
export function rpcRecorder(operation: string): (code: status, seconds: number) => void {
  const duration = runtimeOperationDuration.labels(operation);
  const byCode = new Map<status, { inc(): void }>();
  return (code, seconds) => {
    duration.observe(seconds);
    let counter = byCode.get(code);
    if (!counter) {
      counter = runtimeOperations.labels(operation, status[code] ?? String(code));
      byCode.set(code, counter);
    }
    counter.inc();
  };
}

/** Children by route, and by route and status: both bounded, so looked up once each. */
const engineChildren = new Map<
  string,
  { duration: { observe(value: number): void }; byStatus: Map<string, { inc(): void }> }
>();

/** One engine request: its HTTP status, or why it has none. */
export function recordDockerRequest(
  method: string,
  path: string,
  outcome: number | "error" | "cancelled",
  seconds: number,
): void {
  const endpoint = engineRoute(method, path);
  let children = engineChildren.get(endpoint);
  if (!children) {
    children = { duration: dockerOperationDuration.labels(endpoint), byStatus: new Map() };
    engineChildren.set(endpoint, children);
  }
  const status = String(outcome);
  let counter = children.byStatus.get(status);
  if (!counter) {
    counter = dockerOperations.labels(endpoint, status);
    children.byStatus.set(status, counter);
  }
  children.duration.observe(seconds);
  counter.inc();
}

export function recordPluginRun(
  command: string,
  pluginType: string,
  seconds: number,
  failed: boolean,
): void {
  networkPluginDuration.observe({ operation_type: command, plugin_type: pluginType }, seconds);
  if (failed) networkPluginErrors.inc({ operation_type: command, plugin_type: pluginType });
}

export function recordPull(result: PullResult, seconds: number, bytes: number): void {
  imagePulls.inc({ result });
  imagePullDuration.observe({ result }, seconds);
  if (bytes > 0) imagePullBytes.inc(bytes);
}
