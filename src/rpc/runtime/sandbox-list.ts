import { create, toBinary } from "@bufbuild/protobuf";
import {
  type PodSandboxFilter,
  PodSandboxSchema,
  type PodSandboxState,
  type RuntimeService,
} from "../../gen/runtime/v1/api_pb.js";
import { matchesSandboxFilter, sandboxState, toPodSandbox } from "../../runtime/sandbox-convert.ts";
import { preserialized, reusedRepeatedField } from "../../server/preserialized.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { SandboxRecord } from "../../store/records.ts";
import { POD_UID_LABEL } from "../../store/state-store.ts";
import type { Services } from "../services.ts";
import { sendInPages } from "../stream-pages.ts";

/**
 * The sandboxes a filter can match: those of one pod when it selects the pod's uid (the
 * kubelet's per-pod sync), else all of them. The filter itself is still applied to each.
 */
function candidates(s: Services, filter: PodSandboxFilter | undefined): Iterable<SandboxRecord> {
  const uid = filter?.labelSelector[POD_UID_LABEL];
  return uid === undefined ? s.store.sandboxes() : s.store.withPodUid(uid).sandboxes;
}

async function listSandboxes(s: Services, filter: PodSandboxFilter | undefined) {
  const items = [];
  for (const sandbox of candidates(s, filter)) {
    const state: PodSandboxState = sandboxState(sandbox);
    if (matchesSandboxFilter(sandbox, state, filter)) items.push(toPodSandbox(sandbox, state));
  }
  return items;
}

/** Each sandbox's encoding, kept while its record (replaced on every change) and state stay. */
const encodings = new WeakMap<SandboxRecord, { state: PodSandboxState; bytes: Uint8Array }>();

/** Answered from the store: the kubelet relists every second. */
export function sandboxList(s: Services): ServiceHandlers<typeof RuntimeService>["listPodSandbox"] {
  // ListPodSandboxResponse: field 1, repeated PodSandbox. The kubelet's relist (no filter)
  // and its per-pod syncs (filtered) each keep their own last answer, so a sync between two
  // relists does not make the next relist encode its whole answer again.
  const answerAll = reusedRepeatedField(1);
  const answerFiltered = reusedRepeatedField(1);
  return async (request) => {
    const answer = isEmptyFilter(request.filter) ? answerAll : answerFiltered;
    const items: Uint8Array[] = [];
    for (const sandbox of candidates(s, request.filter)) {
      const state = sandboxState(sandbox);
      if (!matchesSandboxFilter(sandbox, state, request.filter)) continue;
      const cached = encodings.get(sandbox);
      if (cached && cached.state === state) {
        items.push(cached.bytes);
        continue;
      }
      const bytes = toBinary(
        PodSandboxSchema,
        create(PodSandboxSchema, toPodSandbox(sandbox, state)),
      );
      encodings.set(sandbox, { state, bytes });
      items.push(bytes);
    }
    return preserialized(answer(items));
  };
}

export function sandboxStream(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["streamPodSandboxes"] {
  return async (request, send) => {
    const items = await listSandboxes(s, request.filter);
    await sendInPages(items, (page) => send({ podSandboxes: page }));
  };
}

function isEmptyFilter(filter: PodSandboxFilter | undefined): boolean {
  return (
    !filter || (filter.id === "" && !filter.state && Object.keys(filter.labelSelector).length === 0)
  );
}
