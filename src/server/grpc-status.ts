import { status } from "@grpc/grpc-js";
import { BerthError, type ErrorKind, messageOf } from "../errors.ts";

const codeOfKind: Record<ErrorKind, status> = {
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  FailedPrecondition: status.FAILED_PRECONDITION,
  Unavailable: status.UNAVAILABLE,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  Cancelled: status.CANCELLED,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  Unauthenticated: status.UNAUTHENTICATED,
  PermissionDenied: status.PERMISSION_DENIED,
  Unimplemented: status.UNIMPLEMENTED,
  Internal: status.INTERNAL,
};

export interface GrpcFailure {
  code: status;
  details: string;
}

/**
 * The one mapping from anything a handler throws to a gRPC status. Unknown errors become
 * INTERNAL with their message kept, so a person reading the kubelet's log can act on it.
 */
export function toGrpcFailure(err: unknown): GrpcFailure {
  // A full disk or quota, wherever it was met and however it was wrapped: the kubelet (and
  // its reader) should see the node is out of space, not an internal error.
  if (hasCause(err, (cause) => OUT_OF_SPACE.has(errnoCode(cause) ?? ""))) {
    return { code: status.RESOURCE_EXHAUSTED, details: messageOf(err) };
  }
  if (err instanceof BerthError) {
    return { code: codeOfKind[err.kind], details: err.message };
  }
  // AbortSignal reasons: the client's deadline passed, or it cancelled the call.
  if (err instanceof Error && err.name === "TimeoutError") {
    return { code: status.DEADLINE_EXCEEDED, details: "the call's deadline passed" };
  }
  if (err instanceof Error && err.name === "AbortError") {
    return { code: status.CANCELLED, details: "the call was cancelled" };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: `internal error: ${message}` };
}

/** errno codes of a full file system or an exceeded quota. */
const OUT_OF_SPACE = new Set(["ENOSPC", "EDQUOT"]);

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether the error or any error in its `cause` chain satisfies `test`. */
function hasCause(err: unknown, test: (cause: unknown) => boolean): boolean {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 16; depth++) {
    if (test(cause)) return true;
    cause = cause.cause;
  }
  return false;
}
