import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { cgroupHierarchies, joinRuntimeCgroup } from "./runtime-cgroup.ts";

/** A Debian 12 host on cgroup v1 with the unified hierarchy beside (this test machine's). */
const HYBRID = [
  "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
  "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset",
  "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
  "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate",
  "42 23 0:32 / /mnt/memory\\040again rw,relatime - cgroup cgroup rw,memory",
  "43 23 0:30 / /proc rw - proc proc rw",
].join("\n");

describe("--runtime-cgroups", () => {
  test("finds each cgroup hierarchy once, v1 and v2", () => {
    assert.deepEqual(cgroupHierarchies(HYBRID), [
      { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"], version: 1 },
      { mountPoint: "/sys/fs/cgroup/cpuset", controllers: ["cpuset"], version: 1 },
      { mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"], version: 1 },
      { mountPoint: "/sys/fs/cgroup/systemd", controllers: ["name=systemd"], version: 1 },
      { mountPoint: "/sys/fs/cgroup/unified", controllers: [], version: 2 },
    ]);
    const v2 = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";
    assert.deepEqual(cgroupHierarchies(v2), [
      { mountPoint: "/sys/fs/cgroup", controllers: [], version: 2 },
    ]);
  });

  // The kernel's cgroup filesystems cannot be mounted privately here, and moving a test
  // process out of the machine's own cgroups is not the test's to do: a directory tree stands
  // in for the mounts, and the files berth writes are read back.
  const root = mkdtempSync(join(tmpdir(), "berth-cgroup-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  test("writes berth's pid to cgroup.procs in every hierarchy, creating the cgroup", async () => {
    const cpuset = join(root, "cpuset");
    mkdirSync(cpuset, { recursive: true });
    writeFileSync(join(cpuset, "cpuset.cpus"), "0-1\n");
    writeFileSync(join(cpuset, "cpuset.mems"), "0\n");
    // The kernel creates a new cpuset cgroup with empty cpus and mems.
    mkdirSync(join(cpuset, "system.slice", "berth"), { recursive: true });
    for (const dir of [join(cpuset, "system.slice"), join(cpuset, "system.slice", "berth")]) {
      writeFileSync(join(dir, "cpuset.cpus"), "\n");
      writeFileSync(join(dir, "cpuset.mems"), "\n");
    }
    const mountinfo = [
      `1 0 0:1 / ${join(root, "memory")} rw - cgroup cgroup rw,memory`,
      `2 0 0:2 / ${cpuset} rw - cgroup cgroup rw,cpuset`,
      `3 0 0:3 / ${join(root, "unified")} rw - cgroup2 cgroup2 rw`,
    ].join("\n");
    const files = await joinRuntimeCgroup("/system.slice/berth", 4242, mountinfo);
    assert.deepEqual(files, [
      join(root, "memory", "system.slice", "berth", "cgroup.procs"),
      join(cpuset, "system.slice", "berth", "cgroup.procs"),
      join(root, "unified", "system.slice", "berth", "cgroup.procs"),
    ]);
    for (const file of files) assert.equal(readFileSync(file, "utf8"), "4242\n");
    assert.equal(readFileSync(join(cpuset, "system.slice", "berth", "cpuset.cpus"), "utf8"), "0-1");
    assert.equal(readFileSync(join(cpuset, "system.slice", "cpuset.mems"), "utf8"), "0");
  });

  test("a cgroup berth cannot join fails naming the file", async () => {
    const file = join(root, "blocked");
    writeFileSync(file, "not a directory");
    await assert.rejects(
      joinRuntimeCgroup("/x", 1, `1 0 0:1 / ${file} rw - cgroup2 cgroup2 rw`),
      /EEXIST|ENOTDIR/,
    );
    await assert.rejects(joinRuntimeCgroup("/x", 1, ""), /no cgroup hierarchy is mounted/);
  });
});
