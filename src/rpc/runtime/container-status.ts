import { readFileSync } from "node:fs";
import { toJson } from "@bufbuild/protobuf";
import { invalidArgument } from "../../errors.ts";
import { ContainerConfigSchema, type RuntimeService } from "../../gen/runtime/v1/api_pb.js";
import { containerAccounts } from "../../runtime/container-accounts.ts";
import { toCriContainerStatus } from "../../runtime/container-convert.ts";
import { type LinuxIdentity, resolveIdentity } from "../../runtime/container-identity.ts";
import type { ServiceHandlers } from "../../server/service-handlers.ts";
import type { ContainerRecord } from "../../store/records.ts";
import type { Services } from "../services.ts";

export function containerStatus(
  s: Services,
): ServiceHandlers<typeof RuntimeService>["containerStatus"] {
  return async (request, { signal }) => {
    if (request.containerId === "") throw invalidArgument("container_id is empty");
    let record = s.store.requireContainer(request.containerId);
    // Readers look at the log once, right after they see EXITED: finish it first.
    if (record.process.status !== "running" && record.process.status !== "created") {
      await s.logs.drained(record.id);
      record = s.store.requireContainer(request.containerId);
    }
    const names = await s.images.namesById(record.imageId, signal);
    const info: Record<string, string> = {};
    if (request.verbose) {
      info.info = JSON.stringify(
        {
          pid: record.process.pid,
          sandboxId: record.sandboxId,
          name: record.name,
          applied: record.applied,
          // Protobuf JSON, as crictl prints it (not the in-memory message with its type tags).
          config: toJson(ContainerConfigSchema, record.config),
        },
        (_key, value) => (typeof value === "bigint" ? value.toString() : value),
      );
    }
    const user = processUser(record) ?? (await configuredUser(s, record, signal));
    return { status: toCriContainerStatus(record, names, user), info };
  };
}

/** The identity the container's main process runs with, as the kernel reports it. */
function processUser(record: ContainerRecord): LinuxIdentity | undefined {
  if (record.process.status !== "running" || record.process.pid <= 0) return undefined;
  try {
    const status = readFileSync(`/proc/${record.process.pid}/status`, "utf8");
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const gid = /^Gid:\s+(\d+)/m.exec(status)?.[1];
    const groups = /^Groups:\s*(.*)$/m.exec(status)?.[1]?.trim() ?? "";
    if (uid === undefined || gid === undefined) return undefined;
    return {
      uid: BigInt(uid),
      gid: BigInt(gid),
      supplementalGroups: groups === "" ? [] : groups.split(/\s+/).map((group) => BigInt(group)),
    };
  } catch {
    return undefined;
  }
}

/**
 * Created and exited containers have no process to read: their identity follows from their
 * User, GroupAdd and account files, which do not change, so it is worked out once.
 */
const configured = new Map<string, LinuxIdentity | undefined>();
const CONFIGURED_KEPT = 1024;

async function configuredUser(
  s: Services,
  record: ContainerRecord,
  signal: AbortSignal,
): Promise<LinuxIdentity | undefined> {
  if (configured.has(record.id)) return configured.get(record.id);
  const files = await containerAccounts(s.docker, record.id, signal).catch(() => undefined);
  if (!files) return undefined;
  const identity = resolveIdentity(record.applied.user, record.applied.groupAdd, files);
  if (configured.size >= CONFIGURED_KEPT) {
    const oldest = configured.keys().next().value;
    if (oldest !== undefined) configured.delete(oldest);
  }
  configured.set(record.id, identity);
  return identity;
}
