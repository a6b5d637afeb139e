import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MountPropagation } from "../../src/gen/runtime/v1/api_pb.js";
import {
  type ContainerEnv,
  containerConfig,
  containerStatus,
  outputOf,
  type Pod,
  runContainer,
  runPod,
  startContainerEnv,
  waitFor,
} from "../support/containers.ts";

/** Bind mounts and mount propagation between the host and containers. */

let env: ContainerEnv;
let pod: Pod;
const scratch = mkdtempSync(join(tmpdir(), "berth-ctr-mounts-"));
/** Mount points this file made on the host, unmounted in `after` (deepest first). */
const hostMounts: string[] = [];

before(async () => {
  env = await startContainerEnv();
  pod = await runPod(env, "mounts");
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
  }
});

function mount(args: string[], target: string): void {
  execFileSync("mount", [...args, target], { stdio: "pipe" });
  hostMounts.push(target);
}

/** Mount points in a process's mount namespace. */
function mountPoints(pid: number | "self"): string[] {
  return readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split(" ")[4] as string);
}

describe("bind mounts", () => {
  test("read-write and read-only binds: the container writes through one, is refused by the other", async () => {
    const rw = mkdtempSync(join(scratch, "rw-"));
    const ro = mkdtempSync(join(scratch, "ro-"));
    writeFileSync(join(ro, "from-host"), "host data\n");
    const { lines, status } = await outputOf(
      env,
      pod,
      "binds",
      [
        "echo written > /rw/from-container && echo rw ok",
        "cat /ro/from-host",
        "touch /ro/nope 2>&1 || true",
      ].join("; "),
      {
        mounts: [
          { containerPath: "/rw", hostPath: rw },
          { containerPath: "/ro", hostPath: ro, readonly: true },
        ],
      },
    );
    assert.equal(lines[0], "rw ok");
    assert.equal(lines[1], "host data");
    assert.match(lines[2] ?? "", /Read-only file system/);
    assert.equal(readFileSync(join(rw, "from-container"), "utf8"), "written\n");
    assert.equal(existsSync(join(ro, "nope")), false);
    assert.deepEqual(
      status.mounts.map((m) => [m.containerPath, m.hostPath, m.readonly]),
      [
        ["/rw", rw, false],
        ["/ro", ro, true],
      ],
    );
  });

  test("a missing host path is created as a directory; a file can be bound too", async () => {
    const missing = join(scratch, "missing", "deeper");
    const file = join(scratch, "single-file");
    writeFileSync(file, "just one file\n");
    const { lines } = await outputOf(
      env,
      pod,
      "created",
      "test -d /made && echo dir; cat /etc/single",
      {
        mounts: [
          { containerPath: "/made", hostPath: missing },
          { containerPath: "/etc/single", hostPath: file, readonly: true },
        ],
      },
    );
    assert.deepEqual(lines, ["dir", "just one file"]);
    assert.ok(statSync(missing).isDirectory(), "created on the host");
  });
});

describe("mount propagation", () => {
  test("private, host-to-container (rslave) and bidirectional (rshared) between host and container", async () => {
    // The host's root mount is private here: make a shared mount point of our own.
    const shared = mkdtempSync(join(scratch, "shared-"));
    mount(["--bind", shared], shared);
    execFileSync("mount", ["--make-shared", shared]);

    const modes = [
      ["private", MountPropagation.PROPAGATION_PRIVATE],
      ["rslave", MountPropagation.PROPAGATION_HOST_TO_CONTAINER],
      ["rshared", MountPropagation.PROPAGATION_BIDIRECTIONAL],
    ] as const;
    // Each container mounts a tmpfs of its own under the volume once started, then waits.
    const containers = await Promise.all(
      modes.map(([name, propagation]) =>
        runContainer(
          env,
          pod,
          containerConfig(`prop-${name}`, {
            command: [
              "sh",
              "-c",
              `mkdir -p /vol/from-${name} && mount -t tmpfs ctr-${name} /vol/from-${name} && echo mounted; sleep 3600`,
            ],
            mounts: [{ containerPath: "/vol", hostPath: shared, propagation }],
            linux: { securityContext: { capabilities: { addCapabilities: ["SYS_ADMIN"] } } },
          }),
        ),
      ),
    );
    for (const c of containers) {
      await waitFor(`${c.config.metadata?.name} mounted`, () =>
        mountPoints(c.pid).some((point) => point.startsWith("/vol/from-")),
      );
      const s = await containerStatus(env, c.id);
      assert.equal(s.mounts[0]?.propagation, c.config.mounts?.[0]?.propagation);
    }
    // Now the host mounts something under the shared directory.
    const fromHost = join(shared, "from-host");
    mkdirSync(fromHost);
    mount(["-t", "tmpfs", "host-tmpfs"], fromHost);

    const [privateC, slaveC, sharedC] = containers as [
      (typeof containers)[0],
      (typeof containers)[0],
      (typeof containers)[0],
    ];
    const sees = (pid: number, point: string) => mountPoints(pid).includes(point);
    await waitFor(
      "the host's mount in the rslave and rshared containers",
      () => sees(slaveC.pid, "/vol/from-host") && sees(sharedC.pid, "/vol/from-host"),
    );
    assert.equal(
      sees(privateC.pid, "/vol/from-host"),
      false,
      "private: the host's mount stays out",
    );

    const hostPoints = mountPoints("self");
    for (const point of hostPoints.filter((p) => p.startsWith(`${shared}/from-`))) {
      hostMounts.push(point);
    }
    assert.ok(
      hostPoints.includes(join(shared, "from-rshared")),
      "rshared: the container's mount reaches the host",
    );
    assert.ok(
      !hostPoints.includes(join(shared, "from-rslave")),
      "rslave: the container's mount stays in",
    );
    assert.ok(
      !hostPoints.includes(join(shared, "from-private")),
      "private: the container's mount stays in",
    );
  });
});
