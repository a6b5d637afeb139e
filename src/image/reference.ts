import { isIP } from "node:net";
import { invalidArgument } from "../errors.ts";

/**
 * Image references as Docker (distribution/reference) reads them, parsed without I/O so that
 * malformed input is refused with INVALID_ARGUMENT before any engine call.
 */
export type ImageRef =
  | { kind: "id"; id: string }
  | {
      kind: "named";
      domain: string;
      path: string;
      tag: string | undefined;
      digest: string | undefined;
    };

export const DEFAULT_DOMAIN = "docker.io";
const ID = /^(?:sha256:)?([a-f0-9]{64})$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const MAX_NAME_LENGTH = 255;

export function parseImageRef(input: string): ImageRef {
  const text = input.trim();
  if (text === "") throw invalidArgument("image reference is empty");
  const id = ID.exec(text);
  if (id) return { kind: "id", id: `sha256:${id[1]}` };

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest) || (digest.startsWith("sha256:") && !SHA256.test(digest))) {
      throw bad(input, `"${digest}" is not a digest`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`);
  }
  if (rest.length > MAX_NAME_LENGTH) throw bad(input, "the name is longer than 255 characters");

  const parts = rest.split("/");
  let domain = DEFAULT_DOMAIN;
  const first = parts[0] ?? "";
  if (parts.length > 1 && isDomain(first)) {
    domain = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((part) => !COMPONENT.test(part))) {
    throw bad(input, "repository names may contain only lowercase letters, digits and separators");
  }
  let path = parts.join("/");
  if (domain === "index.docker.io") domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && parts.length === 1) path = `library/${path}`;
  return { kind: "named", domain, path, tag, digest };
}

/** A first component is a registry when it looks like a host: a dot, a port, or localhost. */
function isDomain(component: string): boolean {
  if (component === "localhost") return true;
  if (
    !component.includes(".") &&
    !component.includes(":") &&
    component === component.toLowerCase()
  ) {
    return false;
  }
  // An IPv6 literal in brackets, with an optional port: [::1]:5000
  const ipv6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(component);
  if (ipv6) return isIP(ipv6[1] ?? "") === 6;
  const [host = "", port, extra] = component.split(":");
  if (extra !== undefined || (port !== undefined && !/^\d+$/.test(port))) return false;
  return host.split(".").every((label) => DOMAIN_COMPONENT.test(label));
}

function bad(input: string, why: string) {
  return invalidArgument(`invalid image reference "${input}": ${why}`);
}

/** `docker.io/library/busybox` */
export function repositoryOf(ref: Extract<ImageRef, { kind: "named" }>): string {
  return `${ref.domain}/${ref.path}`;
}

/**
 * The fully qualified form used to compare references: the tag defaults to `latest` only
 * when there is no digest, as Docker's own normalisation does.
 */
export function normalizeImageRef(ref: ImageRef): string {
  if (ref.kind === "id") return ref.id;
  const repository = repositoryOf(ref);
  if (ref.digest)
    return ref.tag ? `${repository}:${ref.tag}@${ref.digest}` : `${repository}@${ref.digest}`;
  return `${repository}:${ref.tag ?? "latest"}`;
}

/** Parses a reference text, or answers undefined when it cannot be parsed. */
export function tryParseImageRef(text: string): ImageRef | undefined {
  try {
    return parseImageRef(text);
  } catch {
    return undefined;
  }
}

/** Normalises a reference text, or answers undefined when it cannot be parsed. */
export function tryNormalize(text: string): string | undefined {
  const ref = tryParseImageRef(text);
  return ref && normalizeImageRef(ref);
}

/** What the engine's pull call takes: the repository, and a tag or digest. */
export function pullArguments(ref: ImageRef): { fromImage: string; tag: string } {
  if (ref.kind === "id") {
    throw invalidArgument(`cannot pull "${ref.id}": an image ID names no repository to pull from`);
  }
  return { fromImage: repositoryOf(ref), tag: ref.digest ?? ref.tag ?? "latest" };
}
