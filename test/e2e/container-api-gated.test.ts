import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { MountPropagation } from "../../src/gen/runtime/v1/api_pb.js";
import {
  BUSYBOX,
  type ContainerConfigInit,
  type ContainerEnv,
  containerConfig,
  createContainer,
  fixtures,
  outputOf,
  type Pod,
  runPod,
  startContainerEnv,
} from "../support/containers.ts";
import { testDocker } from "../support/docker.ts";
import { expectCode } from "../support/grpc.ts";

/**
 * What only newer engines can do for a container: recursive read-only binds (API 1.44, Docker
 * 25, and Linux 5.12's mount_setattr), CDI devices (API 1.44 with CDI on, the default from
 * Docker 28) and image volumes (API 1.48, Docker 28). Each runs for real on an engine that
 * can, and on one that cannot it must be refused at CreateContainer with INVALID_ARGUMENT
 * naming the field and what it needs, leaving no container behind. The suite runs on Docker
 * 20.10 (API 1.41) and Docker 28 (API 1.51), so both halves run.
 */

let env: ContainerEnv;
let pod: Pod;
const BUSYBOX_UID = fixtures.images.busyboxUid;
const scratch = mkdtempSync(join(tmpdir(), "berth-ctr-api-gated-"));
const hostMounts: string[] = [];

before(async () => {
  env = await startContainerEnv();
  pod = await runPod(env, "api-gated");
});

after(async () => {
  try {
    await env.close();
  } finally {
    for (const target of hostMounts.reverse()) {
      try {
        execFileSync("umount", ["-l", target], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
    rmSync(scratch, { recursive: true, force: true });
    rmSync(CDI_SPEC, { force: true });
  }
});

function atLeast(version: string, wanted: string): boolean {
  const [major = 0, minor = 0] = version.split(/[.-]/).map((part) => Number.parseInt(part, 10));
  const [wantMajor = 0, wantMinor = 0] = wanted.split(".").map(Number);
  return major !== wantMajor ? major > wantMajor : minor >= wantMinor;
}

// Decided at load time, as skip reasons need them: the API version berth negotiates with this
// engine (the same module negotiates for the tests) and the kernel's release.
const probe = testDocker();
const api = await probe.apiVersion();
await probe.close();
const recursiveReadOnly = atLeast(api, "1.44") && atLeast(release(), "5.12");
const imageVolumes = atLeast(api, "1.48");
const cdi = atLeast(api, "1.44");

/** A CDI spec of this run's own (Docker reads /var/run/cdi at each create), removed after. */
const CDI_KIND = "berth.test/e2e";
const CDI_DEVICE = `run${process.pid}`;
const CDI_SPEC = `/var/run/cdi/berth-e2e-${process.pid}.json`;

/** CreateContainer that must fail: answers the details, and checks no container was left. */
async function refused(name: string, config: ContainerConfigInit, pattern: RegExp) {
  const details = await expectCode(
    createContainer(env, pod, config),
    status.INVALID_ARGUMENT,
    pattern,
  );
  const left = await env.berth.client.runtime.listContainers({
    filter: { podSandboxId: pod.id },
  });
  assert.deepEqual(
    left.containers.filter((c) => c.metadata?.name === name),
    [],
    "no container left behind",
  );
  return details;
}

describe("recursive read-only binds", () => {
  /** A host directory with a tmpfs mounted inside it, holding a file. */
  function treeWithSubmount(): string {
    const dir = mkdtempSync(join(scratch, "tree-"));
    mkdirSync(join(dir, "sub"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "berth-test-rro", join(dir, "sub")]);
    hostMounts.push(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "file"), "in the submount\n");
    return dir;
  }

  test("the runtime handlers' feature says whether the engine and kernel can make them", async () => {
    const handlers = (await env.berth.client.runtime.status({})).runtimeHandlers;
    assert.ok(handlers.length > 0);
    for (const handler of handlers) {
      assert.equal(
        handler.features?.recursiveReadOnlyMounts,
        recursiveReadOnly,
        `handler "${handler.name}" on API ${api}, Linux ${release()}`,
      );
    }
  });

  test("a recursive read-only bind refuses writes in its submounts; a plain read-only one does not", {
    skip: recursiveReadOnly
      ? false
      : `engine API ${api} / Linux ${release()} cannot make recursive read-only binds (needs 1.44 and 5.12)`,
  }, async () => {
    const tree = treeWithSubmount();
    const { lines } = await outputOf(
      env,
      pod,
      "rro",
      [
        "cat /rro/sub/file",
        "touch /rro/sub/nope 2>&1 || true",
        "touch /rro/nope 2>&1 || true",
        "touch /ro/sub/written && echo plain read-only submount writable",
        "touch /ro/nope 2>&1 || true",
      ].join("; "),
      {
        mounts: [
          {
            containerPath: "/rro",
            hostPath: tree,
            readonly: true,
            recursiveReadOnly: true,
            propagation: MountPropagation.PROPAGATION_PRIVATE,
          },
          { containerPath: "/ro", hostPath: tree, readonly: true },
        ],
      },
    );
    assert.equal(lines[0], "in the submount");
    assert.match(lines[1] ?? "", /Read-only file system/, "submount of the recursive bind");
    assert.match(lines[2] ?? "", /Read-only file system/, "top of the recursive bind");
    assert.equal(lines[3], "plain read-only submount writable");
    assert.match(lines[4] ?? "", /Read-only file system/, "top of the plain read-only bind");
  });

  test("an engine that cannot make them refuses them at create, naming the field and API 1.44", {
    skip: recursiveReadOnly
      ? `engine API ${api} on Linux ${release()} makes recursive read-only binds`
      : false,
  }, async () => {
    const tree = treeWithSubmount();
    await refused(
      "rro-refused",
      containerConfig("rro-refused", {
        mounts: [
          {
            containerPath: "/rro",
            hostPath: tree,
            readonly: true,
            recursiveReadOnly: true,
            propagation: MountPropagation.PROPAGATION_PRIVATE,
          },
        ],
      }),
      /mounts\[0\]\.recursive_read_only: .*Docker Engine API 1\.44/,
    );
  });
});

describe("image volumes", () => {
  test("an image mounted as a volume, whole and by sub path, is read-only", {
    skip: imageVolumes ? false : `engine API ${api} has no image volumes (needs 1.48)`,
  }, async () => {
    const { lines, status: finished } = await outputOf(
      env,
      pod,
      "image-volume",
      [
        "test -x /image/bin/busybox && echo busybox in the image volume",
        "grep -c '^berthuser:' /image-etc/passwd",
        "touch /image/nope 2>&1 || true",
      ].join("; "),
      {
        mounts: [
          { containerPath: "/image", image: { image: BUSYBOX } },
          // Another image: Docker 28 mounts one image at most once per container ("mount
          // already exists with name").
          { containerPath: "/image-etc", image: { image: BUSYBOX_UID }, imageSubPath: "etc" },
        ],
      },
    );
    assert.equal(lines[0], "busybox in the image volume");
    assert.equal(lines[1], "1", `${BUSYBOX_UID}'s /etc/passwd names berthuser`);
    assert.match(lines[2] ?? "", /Read-only file system/);
    assert.equal(finished.exitCode, 0);
  });

  test("an engine without image volumes refuses them at create, naming the field and API 1.48", {
    skip: imageVolumes ? `engine API ${api} has image volumes` : false,
  }, async () => {
    const details = await refused(
      "image-volume-refused",
      containerConfig("image-volume-refused", {
        mounts: [{ containerPath: "/image", image: { image: BUSYBOX } }],
      }),
      /mounts\[0\]\.image: image volumes need Docker Engine API 1\.48/,
    );
    assert.match(details, new RegExp(`speaks ${api.replace(".", "\\.")}`));
  });
});

describe("CDI devices", () => {
  test("a CDI device's container edits reach the container", {
    skip: cdi ? false : `engine API ${api} has no CDI devices (needs 1.44)`,
  }, async () => {
    mkdirSync(dirname(CDI_SPEC), { recursive: true });
    writeFileSync(
      CDI_SPEC,
      JSON.stringify({
        cdiVersion: "0.6.0",
        kind: CDI_KIND,
        devices: [
          { name: CDI_DEVICE, containerEdits: { env: [`BERTH_CDI_DEVICE=${CDI_DEVICE}`] } },
        ],
      }),
    );
    const { lines } = await outputOf(env, pod, "cdi", "echo $BERTH_CDI_DEVICE", {
      CDIDevices: [{ name: `${CDI_KIND}=${CDI_DEVICE}` }],
    });
    assert.deepEqual(lines, [CDI_DEVICE]);
  });

  test("an engine without CDI refuses CDI devices at create, naming the field and API 1.44", {
    skip: cdi ? `engine API ${api} has CDI devices` : false,
  }, async () => {
    await refused(
      "cdi-refused",
      containerConfig("cdi-refused", { CDIDevices: [{ name: `${CDI_KIND}=${CDI_DEVICE}` }] }),
      /CDI_devices\[0\]\.name: CDI devices need Docker Engine API 1\.44/,
    );
  });
});
