import { rm } from "node:fs/promises";
import { join } from "node:path";
import { readTextIfPresent } from "../util/read-optional.ts";

/**
 * cri-dockerd's sandbox checkpoint (core/checkpoint.go, the same in 0.3 and 0.4): one JSON file
 * per sandbox at <cri-dockerd root>/sandbox/<id>, written at RunPodSandbox before the pod's
 * network is set up, holding what its CNI teardown needs (port mappings, host network).
 *
 * {"version":"v1","name":POD,"namespace":NS,"data":{"port_mappings":[{"protocol":"tcp",
 * "container_port":80,"host_port":8080,"host_ip":""}],"host_network":true},"checksum":N}
 *
 * The checksum is FNV-32a over go-spew's `%#v` rendering of the data after decoding (Go
 * types, pointers followed, no addresses): berth renders it the same way to verify the file,
 * and the test fixture to write files cri-dockerd itself accepts.
 */
export interface CriDockerdPortMapping {
  protocol: string;
  containerPort: number;
  hostPort: number;
  hostIP: string;
}

export interface CriDockerdCheckpoint {
  name: string;
  namespace: string;
  portMappings: CriDockerdPortMapping[];
  hostNetwork: boolean;
}

export function criDockerdCheckpointPath(rootDir: string, sandboxId: string): string {
  if (!/^[0-9a-f]{64}$/.test(sandboxId)) throw new Error(`not a sandbox id: ${sandboxId}`);
  return join(rootDir, "sandbox", sandboxId);
}

/** The data as cri-dockerd's Go structs hold it after json.Unmarshal: absent is nil. */
interface GoPortMapping {
  protocol?: string;
  container_port?: number;
  host_port?: number;
  host_ip?: string;
}
interface GoCheckpointData {
  port_mappings?: Array<GoPortMapping | null> | null;
  host_network?: boolean;
}

/** go-spew's `%#v` of core.CheckpointData, as cri-dockerd's store.NewChecksum renders it. */
export function spewCheckpointData(data: GoCheckpointData): string {
  const pointer = (type: string, value: string | number | undefined) =>
    `(*${type})${value === undefined ? "<nil>" : String(value)}`;
  const mappings = data.port_mappings;
  const list =
    mappings === undefined || mappings === null
      ? "<nil>"
      : `[${mappings
          .map((m) =>
            m === null
              ? "<nil>"
              : `<*>{Protocol:${pointer("config.Protocol", m.protocol)} ContainerPort:${pointer("int32", m.container_port)} HostPort:${pointer("int32", m.host_port)} HostIP:(string)${m.host_ip ?? ""}}`,
          )
          .join(" ")}]`;
  return `(core.CheckpointData){PortMappings:([]*config.PortMapping)${list} HostNetwork:(bool)${data.host_network === true}}`;
}

/** FNV-32a, as Go's hash/fnv New32a. */
export function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function criDockerdChecksum(data: GoCheckpointData): number {
  return fnv32a(spewCheckpointData(data));
}

/** The file cri-dockerd writes for a sandbox (what the test fixture stands in with). */
export function formatCriDockerdCheckpoint(checkpoint: CriDockerdCheckpoint): string {
  const data: GoCheckpointData = {};
  if (checkpoint.portMappings.length > 0) {
    data.port_mappings = checkpoint.portMappings.map((m) => ({
      protocol: m.protocol,
      container_port: m.containerPort,
      host_port: m.hostPort,
      ...(m.hostIP === "" ? {} : { host_ip: m.hostIP }),
    }));
  }
  if (checkpoint.hostNetwork) data.host_network = true;
  return JSON.stringify({
    version: "v1",
    name: checkpoint.name,
    namespace: checkpoint.namespace,
    data,
    checksum: criDockerdChecksum(data),
  });
}

const isInt = (value: unknown) => typeof value === "number" && Number.isInteger(value);

/** The checkpoint, or why it cannot be trusted (cri-dockerd would reject it too). */
export function parseCriDockerdCheckpoint(text: string): CriDockerdCheckpoint | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof parsed !== "object" || parsed === null) return "not a JSON object";
  const file = parsed as Record<string, unknown>;
  if (file.version !== "v1") return `unknown version ${JSON.stringify(file.version)}`;
  if (typeof file.name !== "string" || typeof file.namespace !== "string")
    return "no pod name or namespace";
  const data = file.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "no data";
  const go = data as Record<string, unknown>;
  if (go.host_network !== undefined && typeof go.host_network !== "boolean")
    return "host_network is not a bool";
  const mappings = go.port_mappings;
  if (mappings !== undefined && mappings !== null && !Array.isArray(mappings))
    return "port_mappings is not a list";
  const portMappings: CriDockerdPortMapping[] = [];
  for (const entry of (mappings ?? []) as unknown[]) {
    if (entry === null) continue;
    if (typeof entry !== "object") return "a port mapping is not an object";
    const m = entry as Record<string, unknown>;
    if (m.protocol !== undefined && typeof m.protocol !== "string")
      return "a port mapping's protocol is not a string";
    for (const key of ["container_port", "host_port"]) {
      if (m[key] !== undefined && !isInt(m[key])) return `a port mapping's ${key} is not a number`;
    }
    if (m.host_ip !== undefined && typeof m.host_ip !== "string")
      return "a port mapping's host_ip is not a string";
    portMappings.push({
      protocol: (m.protocol as string | undefined) ?? "tcp",
      containerPort: (m.container_port as number | undefined) ?? 0,
      hostPort: (m.host_port as number | undefined) ?? 0,
      hostIP: (m.host_ip as string | undefined) ?? "",
    });
  }
  if (!isInt(file.checksum)) return "no checksum";
  if (file.checksum !== criDockerdChecksum(go as GoCheckpointData)) return "checksum mismatch";
  return {
    name: file.name,
    namespace: file.namespace,
    portMappings,
    hostNetwork: go.host_network === true,
  };
}

/** cri-dockerd's checkpoints of one root directory: read, never written, removed with the pod. */
export class CriDockerdCheckpoints {
  readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = rootDir;
  }

  /** undefined: no checkpoint; a string: why the file there is unusable. */
  async read(sandboxId: string): Promise<CriDockerdCheckpoint | string | undefined> {
    const text = await readTextIfPresent(criDockerdCheckpointPath(this.rootDir, sandboxId));
    return text === undefined ? undefined : parseCriDockerdCheckpoint(text);
  }

  async remove(sandboxId: string): Promise<void> {
    await rm(criDockerdCheckpointPath(this.rootDir, sandboxId), { force: true });
  }
}
