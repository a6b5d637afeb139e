import type { Logger } from "pino";

/** What every handler gets besides its request. */
export interface CallContext {
  /** Aborted when the client cancels or the call's deadline passes. */
  signal: AbortSignal;
  /** The client's deadline, if it set one. */
  deadline: Date | undefined;
  log: Logger;
}
