import type { ImageInspect } from "../docker/types.ts";
import { tryNormalize } from "./reference.ts";

/** Docker's placeholders for untagged images on older engines. */
const NONE_TAG = "<none>:<none>";
const NONE_DIGEST = "<none>@<none>";

export interface CriImageInit {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: bigint;
  uid?: { value: bigint };
  username: string;
  spec: { image: string };
  pinned: boolean;
}

/** An image's user as the CRI reports it: numeric users as uid, names as username. */
export function imageUser(user: string | undefined): { uid?: { value: bigint }; username: string } {
  const name = (user ?? "").split(":")[0] ?? "";
  if (name === "") return { username: "" };
  if (/^\d+$/.test(name)) return { uid: { value: BigInt(name) }, username: "" };
  return { username: name };
}

/**
 * Docker image → CRI Image. `pinnedRefs` holds normalised references (the pause image)
 * that the kubelet's image garbage collector must never remove.
 */
export function toCriImage(
  image: Pick<ImageInspect, "Id" | "RepoTags" | "RepoDigests" | "Size"> & {
    User: string | undefined;
  },
  pinnedRefs: ReadonlySet<string>,
): CriImageInit {
  const repoTags = (image.RepoTags ?? []).filter((tag) => tag !== NONE_TAG);
  const repoDigests = (image.RepoDigests ?? []).filter((digest) => digest !== NONE_DIGEST);
  const pinned = [...repoTags, ...repoDigests].some((ref) => {
    const normalized = tryNormalize(ref);
    return normalized !== undefined && pinnedRefs.has(normalized);
  });
  return {
    id: image.Id,
    repoTags,
    repoDigests,
    size: BigInt(Math.max(0, Math.trunc(image.Size))),
    ...imageUser(image.User),
    spec: { image: image.Id },
    pinned: pinned || pinnedRefs.has(image.Id),
  };
}
