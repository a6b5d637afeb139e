import type { RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { Services } from "../services.ts";

/** A server stream that lasts until the client goes away. */
export function containerEvents(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["getContainerEvents"] {
  return (_request, send, { signal }) => s.events.stream(send, signal);
}
