import { apiAtLeast } from "../docker/api-version.ts";
import type { EngineFacts } from "./engine-facts.ts";

/** The kubelet's name for the runtime handler used when a pod names none. */
export const DEFAULT_HANDLER = "";

export interface HandlerFeatures {
  recursiveReadOnlyMounts: boolean;
  userNamespaces: boolean;
}

/**
 * Recursive read-only bind mounts need the engine's BindOptions.ReadOnlyForceRecursive
 * (API 1.44) and the kernel's mount_setattr (Linux 5.12).
 */
export function supportsRecursiveReadOnly(apiVersion: string, kernelVersion: string): boolean {
  if (!apiAtLeast(apiVersion, "1.44")) return false;
  const [major = 0, minor = 0] = kernelVersion
    .split(/[.-]/)
    .map((part) => Number.parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 12);
}

/**
 * The handlers berth offers: the default, and each OCI runtime the engine has configured
 * (`runc`, ...), which a pod may name as its runtime_handler. berth maps no user namespaces.
 */
export function runtimeHandlers(
  facts: EngineFacts,
): Array<{ name: string; features: HandlerFeatures }> {
  const features: HandlerFeatures = {
    recursiveReadOnlyMounts: supportsRecursiveReadOnly(facts.apiVersion, facts.info.KernelVersion),
    userNamespaces: false,
  };
  const names = [DEFAULT_HANDLER, ...Object.keys(facts.info.Runtimes ?? {}).sort()];
  return names.map((name) => ({ name, features }));
}
