/**
 * The bounded label for an engine request: its method and the Docker API route it hit, with
 * ids and names replaced by the route's parameters, e.g. `GET /containers/{id}/json`. Paths
 * carry container ids, exec ids and image references, which must never become label values
 * (each would be a series of its own).
 */
export function engineRoute(method: string, path: string): string {
  const query = path.indexOf("?");
  const bare = (query === -1 ? path : path.slice(0, query)).replace(/^\/v\d+\.\d+(?=\/)/, "");
  const segments = bare.split("/").filter((segment) => segment !== "");
  return `${method.toUpperCase()} /${templateOf(segments).join("/")}`;
}

/** Collections addressed by one id segment, with the literal words that may take its place. */
const BY_ID: Record<string, ReadonlySet<string>> = {
  containers: new Set(["json", "create", "prune"]),
  exec: new Set(),
  networks: new Set(["create", "prune"]),
  volumes: new Set(["create", "prune"]),
  plugins: new Set(["json", "privileges", "pull", "create"]),
  services: new Set(["create"]),
  nodes: new Set(),
  tasks: new Set(),
  secrets: new Set(["create"]),
  configs: new Set(["create"]),
};

/**
 * Collections addressed by a name that may span segments (an image reference holds slashes
 * when it is not percent-encoded), with the literal words and the trailing actions.
 */
const BY_NAME: Record<string, { literals: ReadonlySet<string>; actions: ReadonlySet<string> }> = {
  images: {
    literals: new Set(["json", "create", "load", "get", "search", "prune"]),
    actions: new Set(["json", "history", "push", "tag", "get"]),
  },
  distribution: { literals: new Set(), actions: new Set(["json"]) },
};

const WORD = /^[A-Za-z_]+$/;

function templateOf(segments: string[]): string[] {
  const [collection, first, ...rest] = segments;
  if (collection === undefined) return [];
  const byId = BY_ID[collection];
  if (byId) {
    if (first === undefined) return [collection];
    if (rest.length === 0 && byId.has(first)) return [collection, first];
    return [collection, "{id}", ...rest.map(word)];
  }
  const byName = BY_NAME[collection];
  if (byName) {
    if (first === undefined) return [collection];
    if (rest.length === 0 && byName.literals.has(first)) return [collection, first];
    const last = rest.at(-1);
    return last !== undefined && byName.actions.has(last)
      ? [collection, "{name}", last]
      : [collection, "{name}"];
  }
  return segments.map(word);
}

/** A segment that is not a plain word is a parameter, whatever route it is in. */
function word(segment: string): string {
  return WORD.test(segment) ? segment : "{param}";
}
