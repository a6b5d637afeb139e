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
import type { Services } from "../services.ts";
import { sendInPages } from "../stream-pages.ts";

async function names(s: Services, record: ContainerRecord, signal: AbortSignal) {
  return s.images.cachedNames(record.imageId) ?? (await s.images.namesById(record.imageId, signal));
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
    for (const record of s.store.containers()) {
      if (!matchesContainerFilter(record, request.filter)) continue;
      items.push(encoded(record, await names(s, record, signal)));
    }
    return preserialized(answer(items));
  };
}

export function containerStream(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["streamContainers"] {
  return async (request, send, { signal }) => {
    const containers = [];
    for (const record of s.store.containers()) {
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
