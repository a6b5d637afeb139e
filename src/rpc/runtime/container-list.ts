import { create, toBinary } from "@bufbuild/protobuf";
import {
  type ContainerFilter,
  ContainerSchema,
  type RuntimeService,
} from "../../gen/runtime/v1/api_pb.js";
import type { ImageNames } from "../../image/image-lookup.ts";
import { matchesContainerFilter, toCriContainer } from "../../runtime/container-convert.ts";
import { preserialized, reusedRepeatedField } from "../../server/preserialized.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { ContainerRecord } from "../../store/records.ts";
import { POD_UID_LABEL } from "../../store/state-store.ts";
import type { Services } from "../services.ts";
import { sendInPages } from "../stream-pages.ts";

/**
 * The image's names: the cached ones as they are (nearly always), else a lookup to await. No
 * promise in the common case, so a relist need not await once per container.
 */
function names(
  s: Services,
  record: ContainerRecord,
  signal: AbortSignal,
): ImageNames | undefined | Promise<ImageNames | undefined> {
  return s.images.cachedNames(record.imageId) ?? s.images.namesById(record.imageId, signal);
}

/**
 * Each container's encoding, kept while its record (replaced on every change) and its image's
 * names stay the same: the kubelet relists every second, mostly with nothing changed.
 */
const encodings = new WeakMap<
  ContainerRecord,
  { names: ImageNames | undefined; bytes: Uint8Array }
>();

function encoded(record: ContainerRecord, imageNames: ImageNames | undefined): Uint8Array {
  const cached = encodings.get(record);
  if (cached && cached.names === imageNames) return cached.bytes;
  const bytes = toBinary(
    ContainerSchema,
    create(ContainerSchema, toCriContainer(record, imageNames)),
  );
  encodings.set(record, { names: imageNames, bytes });
  return bytes;
}

/**
 * The containers a filter can match: those of one pod when it selects the pod's uid (the
 * kubelet's per-pod sync), of one sandbox when it names a whole sandbox id, else all of them.
 * The filter itself is still applied to each.
 */
function candidates(s: Services, filter: ContainerFilter | undefined): Iterable<ContainerRecord> {
  const uid = filter?.labelSelector[POD_UID_LABEL];
  if (uid !== undefined) return s.store.withPodUid(uid).containers;
  if (filter?.podSandboxId && s.store.sandbox(filter.podSandboxId)?.id === filter.podSandboxId)
    return s.store.containersOf(filter.podSandboxId);
  return s.store.containers();
}

/** Answered from the store: the kubelet relists every second. */
export function containerList(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["listContainers"] {
  // ListContainersResponse: field 1, repeated Container; relists and per-pod syncs each keep
  // their own last answer (see sandboxList).
  const answerAll = reusedRepeatedField(1);
  const answerFiltered = reusedRepeatedField(1);
  return async (request, { signal }) => {
    const answer = isEmptyFilter(request.filter) ? answerAll : answerFiltered;
    const items: Uint8Array[] = [];
    for (const record of candidates(s, request.filter)) {
      if (!matchesContainerFilter(record, request.filter)) continue;
      const found = names(s, record, signal);
      items.push(encoded(record, found instanceof Promise ? await found : found));
    }
    return preserialized(answer(items));
  };
}

export function containerStream(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["streamContainers"] {
  return async (request, send, { signal }) => {
    const containers = [];
    for (const record of candidates(s, request.filter)) {
      if (!matchesContainerFilter(record, request.filter)) continue;
      containers.push(toCriContainer(record, await names(s, record, signal)));
    }
    await sendInPages(containers, (page) => send({ containers: page }));
  };
}

function isEmptyFilter(filter: ContainerFilter | undefined): boolean {
  return (
    !filter ||
    (filter.id === "" &&
      filter.podSandboxId === "" &&
      !filter.state &&
      Object.keys(filter.labelSelector).length === 0)
  );
}
