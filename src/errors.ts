/**
 * berth's domain errors. Handlers throw these (or let the Docker client's errors through);
 * exactly one place, server/grpc-status.ts, turns them into gRPC status codes.
 */

export type ErrorKind =
  | "InvalidArgument"
  | "NotFound"
  | "AlreadyExists"
  | "FailedPrecondition"
  | "Unavailable"
  | "DeadlineExceeded"
  | "Cancelled"
  | "ResourceExhausted"
  | "Unauthenticated"
  | "PermissionDenied"
  | "Unimplemented"
  | "Internal";

export class BerthError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = `BerthError(${kind})`;
  }
}

export const invalidArgument = (message: string) => new BerthError("InvalidArgument", message);
export const notFound = (message: string, cause?: unknown) =>
  new BerthError("NotFound", message, { cause });
export const failedPrecondition = (message: string, cause?: unknown) =>
  new BerthError("FailedPrecondition", message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new BerthError("Unavailable", message, { cause });
export const deadlineExceeded = (message: string, cause?: unknown) =>
  new BerthError("DeadlineExceeded", message, { cause });
export const internal = (message: string, cause?: unknown) =>
  new BerthError("Internal", message, { cause });

export function isErrorKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof BerthError && err.kind === kind;
}

/** The message of anything thrown, for logs and wrapped errors. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
