import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  cgroupDirsOf,
  cgroupDirsOfPid,
  isContainerCgroup,
  parentDirs,
  parseMountinfo,
  parseProcCgroup,
} from "./cgroup-paths.ts";

const ID = "3971a6d270069bbbf006f4dd998e971ef4fd0ad0124cb24d7289df595580105c";

/** This machine's layout: v1 controllers each on its own, and an empty cgroup2 ("hybrid"). */
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** Debian 11 with systemd: cpu and cpuacct co-mounted. */
const COMOUNTED = `25 18 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,pids
`;

/** Debian 12: pure cgroup v2. */
const UNIFIED = `22 26 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe("parseMountinfo", () => {
  test("hybrid hosts are v1, with one mount per controller", () => {
    const mounts = parseMountinfo(HYBRID);
    assert.equal(mounts.version, 1);
    assert.deepEqual(mounts.v1.get("cpuacct"), { mountpoint: "/sys/fs/cgroup/cpuacct", root: "/" });
    assert.equal(mounts.v1.get("memory")?.mountpoint, "/sys/fs/cgroup/memory");
    assert.equal(mounts.unified?.mountpoint, "/sys/fs/cgroup/unified");
  });

  test("co-mounted controllers share their mount", () => {
    const mounts = parseMountinfo(COMOUNTED);
    assert.equal(mounts.version, 1);
    assert.equal(mounts.v1.get("cpu")?.mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
    assert.equal(mounts.v1.get("cpuacct")?.mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
  });

  test("a unified-only host is v2", () => {
    const mounts = parseMountinfo(UNIFIED);
    assert.equal(mounts.version, 2);
    assert.deepEqual(mounts.unified, { mountpoint: "/sys/fs/cgroup", root: "/" });
  });

  test("escaped mountpoints are unescaped", () => {
    const mounts = parseMountinfo("40 31 0:37 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n");
    assert.equal(mounts.unified?.mountpoint, "/mnt/my cgroups");
  });
});

describe("parseProcCgroup and cgroupDirsOf", () => {
  const procV1 = `9:name=systemd:/docker/${ID}
8:pids:/docker/${ID}
4:memory:/kubepods/besteffort/pod1/${ID}
2:cpuacct:/kubepods/besteffort/pod1/${ID}
1:cpu:/kubepods/besteffort/pod1/${ID}
0::/docker/${ID}
`;

  test("parses each hierarchy line", () => {
    const entries = parseProcCgroup(procV1);
    assert.equal(entries.length, 6);
    assert.deepEqual(entries[2], {
      hierarchy: 4,
      controllers: ["memory"],
      path: `/kubepods/besteffort/pod1/${ID}`,
    });
    assert.deepEqual(entries[5], { hierarchy: 0, controllers: [], path: `/docker/${ID}` });
  });

  test("v1: a directory per controller under its mount", () => {
    const dirs = cgroupDirsOf(parseMountinfo(HYBRID), parseProcCgroup(procV1));
    assert.deepEqual(dirs, {
      version: 1,
      cpu: `/sys/fs/cgroup/cpu/kubepods/besteffort/pod1/${ID}`,
      cpuacct: `/sys/fs/cgroup/cpuacct/kubepods/besteffort/pod1/${ID}`,
      memory: `/sys/fs/cgroup/memory/kubepods/besteffort/pod1/${ID}`,
      pids: `/sys/fs/cgroup/pids/docker/${ID}`,
    });
    assert.ok(dirs && isContainerCgroup(dirs, ID));
    assert.equal(
      parentDirs(dirs as never).memory,
      "/sys/fs/cgroup/memory/kubepods/besteffort/pod1",
    );
  });

  test("v1 co-mounted cpu,cpuacct", () => {
    const proc = `3:cpu,cpuacct:/docker/${ID}\n2:memory:/docker/${ID}\n1:pids:/docker/${ID}\n`;
    const dirs = cgroupDirsOf(parseMountinfo(COMOUNTED), parseProcCgroup(proc));
    assert.equal(dirs?.cpu, `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}`);
    assert.equal(dirs?.cpuacct, `/sys/fs/cgroup/cpu,cpuacct/docker/${ID}`);
  });

  test("v2 with the systemd driver: one directory", () => {
    const path = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/docker-${ID}.scope`;
    const dirs = cgroupDirsOf(parseMountinfo(UNIFIED), parseProcCgroup(`0::${path}\n`));
    assert.deepEqual(dirs, {
      version: 2,
      cpu: `/sys/fs/cgroup${path}`,
      cpuacct: `/sys/fs/cgroup${path}`,
      memory: `/sys/fs/cgroup${path}`,
      pids: `/sys/fs/cgroup${path}`,
    });
    assert.ok(dirs && isContainerCgroup(dirs, ID));
    assert.ok(dirs && !isContainerCgroup(dirs, "f".repeat(64)));
  });

  test("a mount of part of the hierarchy hides what is outside it", () => {
    const mounts = parseMountinfo("41 31 0:38 /docker /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    assert.equal(
      cgroupDirsOf(mounts, parseProcCgroup(`0::/docker/${ID}\n`))?.memory,
      `/sys/fs/cgroup/${ID}`,
    );
    assert.equal(cgroupDirsOf(mounts, parseProcCgroup("0::/system.slice/x\n")), undefined);
  });

  test("a v1 host without the memory hierarchy in /proc gives no directories", () => {
    assert.equal(
      cgroupDirsOf(parseMountinfo(HYBRID), parseProcCgroup(`1:cpu:/docker/${ID}\n`)),
      undefined,
    );
  });
});

test("cgroupDirsOfPid reads /proc/<pid>/cgroup; a missing process gives undefined", async () => {
  const proc = await mkdtemp(join(tmpdir(), "berth-proc-"));
  try {
    await mkdir(join(proc, "42"));
    await writeFile(join(proc, "42", "cgroup"), `0::/docker/${ID}\n`);
    const mounts = parseMountinfo(UNIFIED);
    assert.equal((await cgroupDirsOfPid(mounts, 42, proc))?.memory, `/sys/fs/cgroup/docker/${ID}`);
    assert.equal(await cgroupDirsOfPid(mounts, 43, proc), undefined);
    assert.equal(await cgroupDirsOfPid(mounts, 0, proc), undefined);
  } finally {
    await rm(proc, { recursive: true, force: true });
  }
});
