import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { NamespaceMode, SecurityProfile_ProfileType } from "../../src/gen/runtime/v1/api_pb.js";
import { CAPABILITY_NAMES } from "../../src/runtime/capabilities.ts";
import {
  type ContainerConfigInit,
  type ContainerEnv,
  containerConfig,
  containerStatus,
  fixtures,
  hostCapBnd,
  outputOf,
  type Pod,
  procStatus,
  runContainer,
  runPod,
  startContainerEnv,
} from "../support/containers.ts";
import { expectCode } from "../support/grpc.ts";
import { namespaceOf } from "../support/netns.ts";

/**
 * Security contexts and namespaces, observed from inside running containers: the kernel's view
 * of their main process (/proc/<pid>/status and ns links, read from the host) or what the
 * container itself prints into its CRI log.
 */

let env: ContainerEnv;
let apiVersion: string;
let pod: Pod;
const scratch = mkdtempSync(join(tmpdir(), "berth-ctr-security-"));

before(async () => {
  env = await startContainerEnv();
  apiVersion = await env.docker.apiVersion();
  pod = await runPod(env, "security");
});

after(async () => {
  await env.close();
  rmSync(scratch, { recursive: true, force: true });
});

const bit = (name: string) => 1n << BigInt(CAPABILITY_NAMES.indexOf(name as never));
const mask = (...names: string[]) => names.reduce((m, name) => m | bit(`CAP_${name}`), 0n);
const hex = (value: bigint) => value.toString(16).padStart(16, "0");

/** Docker's default capability set. */
const DOCKER_DEFAULT = mask(
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
);

/**
 * What "all capabilities" can be here: the host's bounding set, less what the engine cannot
 * name (Docker 20.10, API 1.41, predates PERFMON, BPF and CHECKPOINT_RESTORE).
 */
function allGrantable(): bigint {
  let all = hostCapBnd();
  const [major = 0, minor = 0] = apiVersion.split(".").map(Number);
  if (major === 1 && minor < 42) all &= ~mask("PERFMON", "BPF", "CHECKPOINT_RESTORE");
  return all;
}

function appArmorEnabled(): boolean {
  try {
    return readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y";
  } catch {
    return false;
  }
}

const caps = (pid: number, set = "CapEff") => BigInt(`0x${procStatus(pid, set)}`);

/**
 * "Everything": at least every capability the engine can name that the host holds, and nothing
 * the host lacks (an engine that knows the newest capabilities may grant them too).
 */
function assertAllCaps(pid: number, what: string, except = 0n): void {
  for (const set of ["CapEff", "CapPrm", "CapBnd"]) {
    const got = caps(pid, set);
    const want = allGrantable() & ~except;
    assert.equal(hex(got & want), hex(want), `${what}: ${set} holds all the host grants`);
    assert.equal(hex(got & ~(hostCapBnd() & ~except)), hex(0n), `${what}: ${set} holds no more`);
  }
}

function assertCaps(pid: number, expected: bigint, what: string): void {
  for (const set of ["CapEff", "CapPrm", "CapBnd"]) {
    assert.equal(hex(caps(pid, set)), hex(expected), `${what}: ${set}`);
  }
}

const sleeper = (name: string, overrides: Partial<ContainerConfigInit> = {}) =>
  containerConfig(name, { command: ["sleep", "3600"], ...overrides });

const sc = (securityContext: object): Partial<ContainerConfigInit> => ({
  linux: { securityContext },
});

describe("users and groups", () => {
  test("run_as_user, run_as_group and supplemental_groups set the process's ids; ContainerStatus.user tells them", async () => {
    const c = await runContainer(
      env,
      pod,
      sleeper(
        "ids",
        sc({
          runAsUser: { value: 1234n },
          runAsGroup: { value: 2345n },
          supplementalGroups: [3000n, 4000n],
        }),
      ),
    );
    assert.deepEqual(procStatus(c.pid, "Uid").split(/\s+/), ["1234", "1234", "1234", "1234"]);
    assert.deepEqual(procStatus(c.pid, "Gid").split(/\s+/), ["2345", "2345", "2345", "2345"]);
    const groups = procStatus(c.pid, "Groups").split(/\s+/);
    assert.ok(groups.includes("3000") && groups.includes("4000"), `groups ${groups}`);
    const s = await containerStatus(env, c.id);
    assert.equal(s.user?.linux?.uid, 1234n);
    assert.equal(s.user?.linux?.gid, 2345n);
    assert.ok(s.user?.linux?.supplementalGroups.includes(3000n));
    assert.ok(s.user?.linux?.supplementalGroups.includes(4000n));
  });

  test("run_as_username, the image's USER, and run_as_user 0 over a non-root image", async () => {
    const [byName, imageUser, rootOverImage] = await Promise.all([
      runContainer(env, pod, sleeper("by-name", sc({ runAsUsername: "nobody" }))),
      runContainer(
        env,
        pod,
        sleeper("image-user", { image: { image: fixtures.images.busyboxUser } }),
      ),
      runContainer(
        env,
        pod,
        sleeper("root-over-image", {
          image: { image: fixtures.images.busyboxUid },
          ...sc({ runAsUser: { value: 0n } }),
        }),
      ),
    ]);
    assert.equal(procStatus(byName.pid, "Uid").split(/\s+/)[0], "65534");
    assert.equal(procStatus(byName.pid, "Gid").split(/\s+/)[0], "65534");
    assert.equal(procStatus(imageUser.pid, "Uid").split(/\s+/)[0], "1234");
    assert.equal(procStatus(imageUser.pid, "Gid").split(/\s+/)[0], "1234");
    assert.equal(procStatus(rootOverImage.pid, "Uid").split(/\s+/)[0], "0");
    const s = await containerStatus(env, imageUser.id);
    assert.equal(s.user?.linux?.uid, 1234n);
    assert.equal(s.user?.linux?.gid, 1234n);
    // And from inside, as the process sees itself.
    const { lines } = await outputOf(
      env,
      pod,
      "id-inside",
      "id -u; id -g",
      sc({ runAsUser: { value: 1234n }, runAsGroup: { value: 77n } }),
    );
    assert.deepEqual(lines, ["1234", "77"]);
  });
});

describe("capabilities", () => {
  test("default: Docker's set; add and drop change it; drop ALL then add leaves exactly the added", async () => {
    const [plain, addDrop, onlyOne, prefixed] = await Promise.all([
      runContainer(env, pod, sleeper("caps-default")),
      runContainer(
        env,
        pod,
        sleeper(
          "caps-add-drop",
          sc({
            capabilities: {
              addCapabilities: ["NET_ADMIN", "SYS_TIME"],
              dropCapabilities: ["NET_RAW", "CHOWN"],
            },
          }),
        ),
      ),
      runContainer(
        env,
        pod,
        sleeper(
          "caps-only",
          sc({
            capabilities: { dropCapabilities: ["ALL"], addCapabilities: ["NET_BIND_SERVICE"] },
          }),
        ),
      ),
      runContainer(
        env,
        pod,
        sleeper("caps-prefixed", sc({ capabilities: { addCapabilities: ["CAP_SYS_PTRACE"] } })),
      ),
    ]);
    assertCaps(plain.pid, DOCKER_DEFAULT, "default");
    assertCaps(
      addDrop.pid,
      (DOCKER_DEFAULT | mask("NET_ADMIN", "SYS_TIME")) & ~mask("NET_RAW", "CHOWN"),
      "add NET_ADMIN SYS_TIME, drop NET_RAW CHOWN",
    );
    assertCaps(onlyOne.pid, mask("NET_BIND_SERVICE"), "drop ALL, add NET_BIND_SERVICE");
    assertCaps(prefixed.pid, DOCKER_DEFAULT | mask("SYS_PTRACE"), "CAP_ prefix accepted");
  });

  test("add ALL: every capability the host's bounding set holds, even when it is not full", async () => {
    const missing = CAPABILITY_NAMES.filter((name) => (hostCapBnd() & bit(name)) === 0n);
    if (missing.length > 0) console.log(`# host bounding set lacks ${missing.join(", ")}`);
    const [all, allButOne] = await Promise.all([
      runContainer(
        env,
        pod,
        sleeper("caps-all", sc({ capabilities: { addCapabilities: ["ALL"] } })),
      ),
      runContainer(
        env,
        pod,
        sleeper(
          "caps-all-but",
          sc({ capabilities: { addCapabilities: ["ALL"], dropCapabilities: ["NET_ADMIN"] } }),
        ),
      ),
    ]);
    assertAllCaps(all.pid, "ALL");
    assertAllCaps(allButOne.pid, "ALL but NET_ADMIN", mask("NET_ADMIN"));
  });

  test("a capability the host lacks cannot be added (INVALID_ARGUMENT naming it)", async (t) => {
    const missing = CAPABILITY_NAMES.filter(
      (name, i) => i <= 37 && (hostCapBnd() & bit(name)) === 0n,
    );
    if (missing.length === 0) {
      t.skip("the host's capability bounding set is full: nothing to refuse");
      return;
    }
    const name = (missing[0] as string).slice(4);
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: sleeper("caps-missing", sc({ capabilities: { addCapabilities: [name] } })),
        sandboxConfig: pod.config,
      }),
      status.INVALID_ARGUMENT,
      /add_capabilities\[0\]/,
    );
  });
});

/** The kubelet's default masked and read-only paths (procMount Default). */
const KUBELET_MASKED = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];
const KUBELET_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** Mount points of a process's mount namespace, with their options ("ro" or "rw" first). */
function mountsOf(pid: number): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n")) {
    const fields = line.split(" ");
    if (fields.length > 5) mounts.set(fields[4] as string, fields[5] as string);
  }
  return mounts;
}

describe("devices", () => {
  test("a host device at another path with the requested permissions", async (t) => {
    const block = readdirSync("/dev").find((name) => {
      try {
        return statSync(`/dev/${name}`).isBlockDevice();
      } catch {
        return false;
      }
    });
    if (!block) {
      t.skip("the host has no block device to map");
      return;
    }
    const c = await runContainer(
      env,
      pod,
      sleeper("device", {
        devices: [
          { hostPath: `/dev/${block}`, containerPath: "/dev/berth-disk", permissions: "r" },
        ],
      }),
    );
    const inContainer = statSync(`/proc/${c.pid}/root/dev/berth-disk`);
    assert.ok(inContainer.isBlockDevice());
    assert.equal(inContainer.rdev, statSync(`/dev/${block}`).rdev);
    const devicesCgroup = /^\d+:devices:(.*)$/m.exec(readFileSync(`/proc/${c.pid}/cgroup`, "utf8"));
    if (devicesCgroup) {
      const rdev = statSync(`/dev/${block}`).rdev;
      // glibc's major()/minor() for the classic encoding.
      const major = (rdev >> 8) & 0xfff;
      const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
      const list = readFileSync(`/sys/fs/cgroup/devices${devicesCgroup[1]}/devices.list`, "utf8");
      assert.match(
        list,
        new RegExp(`^b ${major}:${minor} r$`, "m"),
        "read-only in the device cgroup",
      );
    }
  });
});

describe("privileged, no_new_privs, seccomp, masked and read-only paths", () => {
  test("privileged: the host's capabilities, its devices, no seccomp, nothing masked or read-only", async () => {
    const privilegedPod = await runPod(env, "privileged", {
      linux: {
        securityContext: {
          privileged: true,
          namespaceOptions: {
            network: NamespaceMode.POD,
            pid: NamespaceMode.CONTAINER,
            ipc: NamespaceMode.POD,
          },
        },
      },
    });
    const c = await runContainer(
      env,
      privilegedPod,
      sleeper("privileged", {
        linux: {
          securityContext: {
            privileged: true,
            // The kubelet still sends its defaults; privileged means none of them.
            maskedPaths: KUBELET_MASKED,
            readonlyPaths: KUBELET_READONLY,
            seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
          },
        },
      }),
    );
    assertAllCaps(c.pid, "privileged");
    assert.equal(procStatus(c.pid, "Seccomp"), "0", "no seccomp filter");
    assert.equal(procStatus(c.pid, "NoNewPrivs"), "0");
    if (appArmorEnabled()) {
      assert.equal(readFileSync(`/proc/${c.pid}/attr/current`, "utf8").trim(), "unconfined");
    }
    const mounts = mountsOf(c.pid);
    for (const path of KUBELET_MASKED) assert.ok(!mounts.has(path), `${path} is not masked`);
    for (const path of KUBELET_READONLY) assert.ok(!mounts.has(path), `${path} is not read-only`);

    // The host's devices are there, and the device cgroup lets the container use them.
    const hostBlock = readdirSync("/dev").find((name) => {
      try {
        return statSync(`/dev/${name}`).isBlockDevice();
      } catch {
        return false;
      }
    });
    if (hostBlock) {
      assert.ok(
        statSync(`/proc/${c.pid}/root/dev/${hostBlock}`).isBlockDevice(),
        `/dev/${hostBlock} in the container`,
      );
    }
    const devicesCgroup = /^\d+:devices:(.*)$/m.exec(readFileSync(`/proc/${c.pid}/cgroup`, "utf8"));
    if (devicesCgroup) {
      const list = readFileSync(`/sys/fs/cgroup/devices${devicesCgroup[1]}/devices.list`, "utf8");
      assert.equal(list.trim(), "a *:* rwm", "every device allowed");
    }
    // And inside: the process can do what only a privileged container may (mount).
    const { lines } = await outputOf(
      env,
      privilegedPod,
      "privileged-mount",
      "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted",
      { linux: { securityContext: { privileged: true } } },
    );
    assert.deepEqual(lines, ["mounted"]);
  });

  test("a privileged container in a pod not created privileged is refused", async () => {
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: sleeper("not-in-privileged-pod", sc({ privileged: true })),
        sandboxConfig: pod.config,
      }),
      status.INVALID_ARGUMENT,
      /privileged/,
    );
  });

  test("no_new_privs: NoNewPrivs 1 with it, 0 without", async () => {
    const [withIt, without] = await Promise.all([
      runContainer(env, pod, sleeper("nnp-on", sc({ noNewPrivs: true }))),
      runContainer(env, pod, sleeper("nnp-off", sc({ noNewPrivs: false }))),
    ]);
    assert.equal(procStatus(withIt.pid, "NoNewPrivs"), "1");
    assert.equal(procStatus(without.pid, "NoNewPrivs"), "0");
  });

  test("seccomp: RuntimeDefault filters, Unconfined does not, a Localhost profile's rules apply", async () => {
    const profile = join(scratch, "no-mkdir.json");
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
      }),
    );
    const [runtimeDefault, deprecatedDefault, unconfined, unset] = await Promise.all([
      runContainer(
        env,
        pod,
        sleeper(
          "seccomp-default",
          sc({ seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } }),
        ),
      ),
      runContainer(
        env,
        pod,
        sleeper("seccomp-path", sc({ seccompProfilePath: "runtime/default" })),
      ),
      runContainer(
        env,
        pod,
        sleeper(
          "seccomp-unconfined",
          sc({ seccomp: { profileType: SecurityProfile_ProfileType.Unconfined } }),
        ),
      ),
      runContainer(env, pod, sleeper("seccomp-unset")),
    ]);
    assert.equal(procStatus(runtimeDefault.pid, "Seccomp"), "2");
    assert.equal(procStatus(deprecatedDefault.pid, "Seccomp"), "2");
    assert.equal(procStatus(unconfined.pid, "Seccomp"), "0");
    assert.equal(procStatus(unset.pid, "Seccomp"), "0", "an unset profile is unconfined (CRI)");

    const script = "mkdir /tmp/made && echo made || echo refused";
    const [localhost, control] = await Promise.all([
      outputOf(
        env,
        pod,
        "seccomp-localhost",
        script,
        sc({
          seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: profile },
        }),
      ),
      outputOf(env, pod, "seccomp-control", script),
    ]);
    assert.deepEqual(localhost.lines, ["refused"]);
    assert.deepEqual(control.lines, ["made"]);
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: sleeper(
          "seccomp-missing",
          sc({
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: join(scratch, "absent.json"),
            },
          }),
        ),
        sandboxConfig: pod.config,
      }),
      status.INVALID_ARGUMENT,
      /seccomp\.localhost_ref/,
    );
  });

  test("AppArmor: a Localhost profile that is not loaded (or without AppArmor) is refused at create", async () => {
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: sleeper(
          "apparmor-localhost",
          sc({
            apparmor: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "berth-e2e-absent",
            },
          }),
        ),
        sandboxConfig: pod.config,
      }),
      status.INVALID_ARGUMENT,
      /apparmor\.localhost_ref/,
    );
  });

  test("AppArmor: RuntimeDefault confines, Unconfined does not", async (t) => {
    if (!appArmorEnabled()) {
      t.skip("AppArmor is not enabled on this host: confinement cannot be observed");
      return;
    }
    const profile = (profileType: SecurityProfile_ProfileType) => sc({ apparmor: { profileType } });
    const [confined, unconfined] = await Promise.all([
      runContainer(
        env,
        pod,
        sleeper("apparmor-default", profile(SecurityProfile_ProfileType.RuntimeDefault)),
      ),
      runContainer(
        env,
        pod,
        sleeper("apparmor-unconfined", profile(SecurityProfile_ProfileType.Unconfined)),
      ),
    ]);
    const label = (pid: number) => readFileSync(`/proc/${pid}/attr/current`, "utf8").trim();
    assert.notEqual(label(confined.pid), "unconfined");
    assert.equal(label(unconfined.pid), "unconfined");
  });

  test("masked paths read as empty and read-only paths refuse writes; empty lists mask nothing", async () => {
    const script = [
      "echo cpuinfo $(cat /proc/cpuinfo | wc -c)",
      "grep -q ' /proc/sys ' /proc/self/mountinfo && echo sys-mount $(grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1) || echo sys-mount none",
      "touch /proc/sysrq-trigger 2>/dev/null && echo sysrq writable || echo sysrq refused",
    ].join("; ");
    const [masked, open] = await Promise.all([
      outputOf(
        env,
        pod,
        "masked",
        script,
        sc({ maskedPaths: ["/proc/cpuinfo", ...KUBELET_MASKED], readonlyPaths: KUBELET_READONLY }),
      ),
      outputOf(env, pod, "unmasked", script, sc({ maskedPaths: [], readonlyPaths: [] })),
    ]);
    assert.equal(masked.lines[0], "cpuinfo 0", "a masked file reads empty");
    assert.equal(masked.lines[1], "sys-mount ro");
    assert.equal(masked.lines[2], "sysrq refused");
    assert.match(open.lines[0] ?? "", /^cpuinfo [1-9]\d*$/);
    assert.equal(open.lines[1], "sys-mount none");
  });

  test("readonly_rootfs refuses writes to the root filesystem, not to a volume", async () => {
    const volume = mkdtempSync(join(scratch, "vol-"));
    const { lines } = await outputOf(
      env,
      pod,
      "readonly-rootfs",
      "touch /new 2>&1 || true; echo hi > /data/file && echo volume ok",
      {
        ...sc({ readonlyRootfs: true }),
        mounts: [{ containerPath: "/data", hostPath: volume }],
      },
    );
    assert.match(lines[0] ?? "", /Read-only file system/);
    assert.equal(lines[1], "volume ok");
    assert.equal(readFileSync(join(volume, "file"), "utf8"), "hi\n");
  });
});

describe("namespaces", () => {
  test("pid POD: the container sees the sandbox's processes; ipc and network are the pod's", async () => {
    const sharedPod = await runPod(env, "shared-pid", {
      linux: {
        securityContext: {
          namespaceOptions: {
            network: NamespaceMode.POD,
            pid: NamespaceMode.POD,
            ipc: NamespaceMode.POD,
          },
        },
      },
    });
    const c = await runContainer(
      env,
      sharedPod,
      sleeper(
        "pod-ns",
        sc({
          namespaceOptions: {
            network: NamespaceMode.POD,
            pid: NamespaceMode.POD,
            ipc: NamespaceMode.POD,
          },
        }),
      ),
    );
    for (const kind of ["pid", "ipc", "net"] as const) {
      assert.equal(
        namespaceOf(c.pid, kind),
        namespaceOf(sharedPod.pid, kind),
        `${kind}: the pod's`,
      );
      assert.notEqual(
        namespaceOf(c.pid, kind),
        namespaceOf("self", kind),
        `${kind}: not the host's`,
      );
    }
    const { lines } = await outputOf(
      env,
      sharedPod,
      "pod-ps",
      "cat /proc/1/comm",
      sc({
        namespaceOptions: {
          network: NamespaceMode.POD,
          pid: NamespaceMode.POD,
          ipc: NamespaceMode.POD,
        },
      }),
    );
    assert.deepEqual(lines, ["pause"], "PID 1 is the sandbox's pause");
  });

  test("network POD: the pod's hostname, DNS configuration and network", async () => {
    const dnsPod = await runPod(env, "dns", {
      hostname: "berth-dns-pod",
      dnsConfig: { servers: ["10.77.0.53"], searches: ["svc.berth.test"], options: ["ndots:3"] },
    });
    const { lines } = await outputOf(
      env,
      dnsPod,
      "dns",
      "hostname; grep -E '^(nameserver|search|options)' /etc/resolv.conf; readlink /proc/self/ns/net",
    );
    assert.equal(lines[0], "berth-dns-pod");
    assert.deepEqual(lines.slice(1, -1).sort(), [
      "nameserver 10.77.0.53",
      "options ndots:3",
      "search svc.berth.test",
    ]);
    assert.equal(lines.at(-1), namespaceOf(dnsPod.pid, "net"));
  });

  test("pid and ipc CONTAINER: namespaces of its own", async () => {
    const c = await runContainer(
      env,
      pod,
      sleeper(
        "own-ns",
        sc({
          namespaceOptions: {
            network: NamespaceMode.POD,
            pid: NamespaceMode.CONTAINER,
            ipc: NamespaceMode.CONTAINER,
          },
        }),
      ),
    );
    for (const kind of ["pid", "ipc"] as const) {
      assert.notEqual(
        namespaceOf(c.pid, kind),
        namespaceOf(pod.pid, kind),
        `${kind}: not the pod's`,
      );
      assert.notEqual(
        namespaceOf(c.pid, kind),
        namespaceOf("self", kind),
        `${kind}: not the host's`,
      );
    }
    assert.equal(namespaceOf(c.pid, "net"), namespaceOf(pod.pid, "net"));
    const { lines } = await outputOf(
      env,
      pod,
      "own-ps",
      "cat /proc/1/comm",
      sc({ namespaceOptions: { pid: NamespaceMode.CONTAINER } }),
    );
    assert.notDeepEqual(lines, ["pause"]);
    assert.equal(lines.length, 1);
  });

  test("pid TARGET: the target container's PID namespace", async () => {
    const target = await runContainer(
      env,
      pod,
      sleeper("target", sc({ namespaceOptions: { pid: NamespaceMode.CONTAINER } })),
    );
    const c = await runContainer(
      env,
      pod,
      sleeper(
        "debugger",
        sc({ namespaceOptions: { pid: NamespaceMode.TARGET, targetId: target.id } }),
      ),
    );
    assert.equal(namespaceOf(c.pid, "pid"), namespaceOf(target.pid, "pid"));
    assert.notEqual(namespaceOf(c.pid, "pid"), namespaceOf(pod.pid, "pid"));
    const { lines } = await outputOf(
      env,
      pod,
      "debugger-ps",
      "cat /proc/1/comm",
      sc({ namespaceOptions: { pid: NamespaceMode.TARGET, targetId: target.id } }),
    );
    assert.deepEqual(lines, ["sleep"], "PID 1 is the target's process");
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: sleeper(
          "no-target",
          sc({ namespaceOptions: { pid: NamespaceMode.TARGET, targetId: "0".repeat(64) } }),
        ),
        sandboxConfig: pod.config,
      }),
      status.NOT_FOUND,
      /target_id/,
    );
  });

  test("NODE: the host's network, PID, IPC and UTS namespaces", async () => {
    const hostPod = await runPod(env, "host-ns", {
      hostname: "",
      linux: {
        securityContext: {
          namespaceOptions: {
            network: NamespaceMode.NODE,
            pid: NamespaceMode.NODE,
            ipc: NamespaceMode.NODE,
          },
        },
      },
    });
    const c = await runContainer(
      env,
      hostPod,
      sleeper(
        "host-ns",
        sc({
          namespaceOptions: {
            network: NamespaceMode.NODE,
            pid: NamespaceMode.NODE,
            ipc: NamespaceMode.NODE,
          },
        }),
      ),
    );
    for (const kind of ["net", "pid", "ipc", "uts"] as const) {
      assert.equal(namespaceOf(c.pid, kind), namespaceOf("self", kind), `${kind}: the host's`);
    }
    // From inside: the host's PID 1 and this test's own process are visible.
    const { lines } = await outputOf(
      env,
      hostPod,
      "host-ps",
      `test -d /proc/${process.pid} && echo sees-host-process`,
      sc({
        namespaceOptions: {
          network: NamespaceMode.NODE,
          pid: NamespaceMode.NODE,
          ipc: NamespaceMode.NODE,
        },
      }),
    );
    assert.deepEqual(lines, ["sees-host-process"]);
  });
});
