import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { NamespaceMode, type PodSandboxConfigSchema } from "../../src/gen/runtime/v1/api_pb.js";

/** The pods' log directories (the kubelet's job on a node), removed when the test process ends. */
const LOG_ROOT = join(tmpdir(), `berth-e2e-logs-${process.pid}`);
process.once("exit", () => rmSync(LOG_ROOT, { recursive: true, force: true }));

export type SandboxConfigInit = MessageInitShape<typeof PodSandboxConfigSchema>;

/** A pod config as the kubelet sends it, with a unique name so tests never collide. */
export function podConfig(
  name: string,
  overrides: Partial<SandboxConfigInit> & { hostNetwork?: boolean; hostIpc?: boolean } = {},
): SandboxConfigInit {
  const { hostNetwork, hostIpc, ...rest } = overrides;
  const uid = randomUUID();
  const base = {
    metadata: { name: `${name}-${uid.slice(0, 8)}`, namespace: "berth-e2e", uid, attempt: 0 },
    hostname: name,
    logDirectory: join(LOG_ROOT, uid),
    labels: { app: name, "berth.test": "e2e" },
    annotations: { "berth.test/annotation": "kept" },
    linux: {
      securityContext: {
        namespaceOptions: {
          network: hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
          ipc: hostIpc ? NamespaceMode.NODE : NamespaceMode.POD,
        },
      },
    },
  };
  return { ...base, ...rest } as SandboxConfigInit;
}
