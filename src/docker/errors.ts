import { BerthError, type ErrorKind } from "../errors.ts";

/**
 * A failed Docker Engine request. Classified here, and only here, by the HTTP status the
 * engine answered with (or by the transport failing), never by the text of its message:
 * that text changes between engine versions.
 */
export class DockerError extends BerthError {
  readonly statusCode: number | undefined;

  constructor(kind: ErrorKind, message: string, statusCode?: number, cause?: unknown) {
    super(kind, message, { cause });
    this.statusCode = statusCode;
    this.name = `DockerError(${kind})`;
  }
}

/** How the engine's HTTP status translates into berth's error kinds. */
export function kindOfStatus(statusCode: number): ErrorKind {
  switch (statusCode) {
    case 400:
      return "InvalidArgument";
    case 401:
      return "Unauthenticated";
    case 403:
      return "PermissionDenied";
    case 404:
      return "NotFound";
    case 409:
      return "FailedPrecondition";
    case 501:
      return "Unimplemented";
    case 503:
      return "Unavailable";
    default:
      return "Internal";
  }
}

export function dockerErrorFromResponse(
  statusCode: number,
  body: string,
  what: string,
): DockerError {
  const message = engineMessage(body) || `HTTP ${statusCode}`;
  return new DockerError(kindOfStatus(statusCode), `${what}: ${message}`, statusCode);
}

/** The engine answers errors as `{"message": "..."}`; older proxies may send plain text. */
function engineMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "string") return parsed;
    if (parsed && typeof parsed === "object" && "message" in parsed) {
      const { message } = parsed as { message: unknown };
      if (typeof message === "string") return message;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim();
}

/** Transport failures (engine down, socket missing, connection reset) mean "unavailable". */
export function dockerErrorFromTransport(err: unknown, what: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new DockerError(
    "Unavailable",
    `${what}: Docker Engine unreachable: ${message}`,
    undefined,
    err,
  );
}

/**
 * What the client found out about the engine after it failed a request with a 5xx: the
 * engine's own answer cannot tell "this request is wrong" from "I am shutting down".
 */
export interface EngineLiveness {
  /** A new connection to the engine was accepted and answered a ping (within a second). */
  answersNewConnection: boolean;
  /** Some request found the engine unreachable while this one was in flight. */
  wentAwayMeanwhile: boolean;
}

/**
 * A 5xx the engine answered while it was going down is the engine being unavailable, not a
 * fault of the request: the caller should retry once it is back. An engine stops accepting
 * connections before it begins shutting down (Docker 20.10 closes its listener first, then
 * stops containers, libnetwork and containerd, and keeps answering the connections already
 * open meanwhile, with 500s, pings included), so a ping over a new connection tells a
 * stopping engine apart without reading its messages. A request in flight across a whole
 * restart (the engine gone and back before the ping) is told by an outage seen meanwhile.
 */
export function serverFailure(failure: DockerError, liveness: EngineLiveness): DockerError {
  if (failure.kind !== "Internal" || (failure.statusCode ?? 0) < 500) return failure;
  if (!liveness.answersNewConnection) {
    return engineWentAway(
      failure,
      "and then Docker Engine stopped answering new connections: it is going down or restarting",
    );
  }
  if (liveness.wentAwayMeanwhile) {
    return engineWentAway(
      failure,
      "and Docker Engine went away while it ran: it restarted meanwhile",
    );
  }
  return failure;
}

function engineWentAway(failure: DockerError, why: string): DockerError {
  return new DockerError("Unavailable", `${failure.message} (${why})`, failure.statusCode, failure);
}

/**
 * An engine call whose target may already be gone: the CRI makes Stop and Remove idempotent,
 * so "not found" is success there. Every other failure is passed on.
 */
export async function ignoreNotFound(operation: Promise<void>): Promise<void> {
  try {
    await operation;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** The engine answered that the object does not exist (HTTP 404). */
export function isNotFound(err: unknown): boolean {
  return err instanceof DockerError && err.kind === "NotFound";
}

/**
 * A removal racing another removal of the same object (another client, or a call berth did
 * not serialise): when the engine refuses it but the object is gone afterwards, what the
 * caller asked for is done. The object's state decides, not the error's text: Docker 20.10
 * answers a concurrent image removal with HTTP 500 "unrecognized image ID", others with 404
 * or 409.
 */
export async function removedUnlessPresent(
  removal: Promise<void>,
  stillPresent: () => Promise<boolean>,
): Promise<void> {
  try {
    await removal;
  } catch (err) {
    if (isNotFound(err)) return;
    if (err instanceof DockerError && err.statusCode !== undefined && !(await stillPresent())) {
      return;
    }
    // 409 "removal already in progress": an earlier request (one whose caller gave up, say)
    // is still removing it. Give that a moment; a removal still running is worth a retry.
    if (err instanceof DockerError && err.statusCode === 409) {
      for (let look = 0; look < 10; look++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        if (!(await stillPresent())) return;
      }
      throw new DockerError("Unavailable", `${err.message} (still in progress)`, 409, err);
    }
    throw err;
  }
}
