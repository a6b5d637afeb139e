import { invalidArgument } from "../errors.ts";
import { NamespaceMode } from "../gen/runtime/v1/api_pb.js";

/** How error messages name a namespace mode (POD, CONTAINER, NODE, TARGET). */
export function modeName(mode: NamespaceMode): string {
  return NamespaceMode[mode] ?? String(mode);
}

/**
 * The kubelet sends NODE (or nothing) unless the pod asks hostUsers: false, which needs the
 * runtime handler's user_namespaces feature berth does not report: anything else is refused.
 * `field` names the namespace options in the message, e.g. linux.security_context.namespace_options.
 */
export function checkUserNamespace(mode: NamespaceMode | undefined, field: string): void {
  if (mode !== undefined && mode !== NamespaceMode.NODE) {
    throw invalidArgument(
      `${field}.userns_options.mode: ${modeName(mode)} is not supported: berth runs no user namespaces`,
    );
  }
}
