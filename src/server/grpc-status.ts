import { status } from "@grpc/grpc-js";
import { BerthError, type ErrorKind } from "../errors.ts";

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
