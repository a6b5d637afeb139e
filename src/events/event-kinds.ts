import { ContainerEventType } from "../gen/runtime/v1/api_pb.js";
import type { ProcessState } from "../store/records.ts";

export type Phase = "created" | "running" | "exited" | "unknown";

/** Docker's process states as the lifecycle phases CRI events speak of. */
export function phaseOf(process: ProcessState): Phase {
  switch (process.status) {
    case "created":
      // A failed start leaves Docker's "created" with an error: the container is over.
      return process.error !== "" ? "exited" : "created";
    case "running":
    case "paused":
    case "restarting":
      return "running";
    case "exited":
    case "dead":
    case "gone":
      return "exited";
    default:
      return "unknown";
  }
}

/**
 * The CRI events a change from one phase to another means, in order. A record berth first
 * sees already running (or exited) still gets the CREATED (and STARTED) events it missed,
 * so a subscriber's view never skips a phase. `restarted`: same phase, but a new start.
 */
export function eventsBetween(
  from: Phase | undefined,
  to: Phase,
  restarted: boolean,
  everStarted: boolean,
): ContainerEventType[] {
  if (from === to)
    return to === "running" && restarted ? [ContainerEventType.CONTAINER_STARTED_EVENT] : [];
  const events: ContainerEventType[] = [];
  if (from === undefined) events.push(ContainerEventType.CONTAINER_CREATED_EVENT);
  if (to === "running") events.push(ContainerEventType.CONTAINER_STARTED_EVENT);
  if (to === "exited") {
    // A container that ran and ended between two looks still gets its STARTED first.
    if ((from === undefined || from === "created") && everStarted) {
      events.push(ContainerEventType.CONTAINER_STARTED_EVENT);
    }
    events.push(ContainerEventType.CONTAINER_STOPPED_EVENT);
  }
  return events;
}

export function eventsForTransition(
  previous: ProcessState | undefined,
  next: ProcessState,
): ContainerEventType[] {
  return eventsBetween(
    previous ? phaseOf(previous) : undefined,
    phaseOf(next),
    // Docker reports a container running a moment before it stamps StartedAt: only a
    // change from one real start time to another is a new start.
    previous !== undefined && previous.startedAt > 0n && previous.startedAt !== next.startedAt,
    next.startedAt > 0n,
  );
}
