import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { assertInvalid, FULL_HOST, RESTRICTED_HOST } from "../../test/support/spec-fixtures.ts";
import type { ImageConfig } from "../docker/types.ts";
import {
  ContainerConfigSchema,
  MountPropagation,
  NamespaceMode,
  PodSandboxConfigSchema,
  SecurityProfile_ProfileType,
  Signal,
} from "../gen/runtime/v1/api_pb.js";
import {
  buildContainerCreateBody,
  type ContainerSpecInput,
  processArgs,
  type SpecCreateBody,
  signalName,
  stopSignalOf,
} from "./container-create-spec.ts";

const RESTRICTED = RESTRICTED_HOST;
const FULL = FULL_HOST;

const SANDBOX_ID = "a".repeat(64);
const IMAGE_ID = `sha256:${"b".repeat(64)}`;
const LABELS = { "io.berth.managed": "true", "io.kubernetes.container.name": "app" };
const LOG = { Type: "json-file", Config: { "max-size": "10m" } };
const BUSYBOX: ImageConfig = { Cmd: ["sh"], Env: ["PATH=/bin"], WorkingDir: "/" };

type ConfigInit = MessageInitShape<typeof ContainerConfigSchema>;
type SandboxInit = MessageInitShape<typeof PodSandboxConfigSchema>;

function input(
  config: ConfigInit,
  sandbox: SandboxInit = {},
  overrides: Partial<ContainerSpecInput> = {},
): ContainerSpecInput {
  return {
    config: create(ContainerConfigSchema, config),
    sandboxConfig: create(PodSandboxConfigSchema, sandbox),
    sandboxId: SANDBOX_ID,
    image: { id: IMAGE_ID, config: BUSYBOX },
    labels: LABELS,
    logConfig: LOG,
    limits: RESTRICTED,
    localhostProfiles: new Map(),
    ...overrides,
  };
}

function build(config: ConfigInit, sandbox?: SandboxInit, overrides?: Partial<ContainerSpecInput>) {
  return buildContainerCreateBody(input(config, sandbox, overrides));
}

/** What the kubelet sends for an ordinary container (procMount Default). */
const KUBELET_MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys"];
const KUBELET_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"];

describe("processArgs", () => {
  const cases: Array<{
    name: string;
    command: string[];
    args: string[];
    image: ImageConfig | null;
    want: ReturnType<typeof processArgs>;
  }> = [
    {
      name: "command replaces the entrypoint and drops the image's cmd",
      command: ["/bin/app"],
      args: [],
      image: { Entrypoint: ["/entry"], Cmd: ["serve"] },
      want: { Entrypoint: ["/bin/app"], Cmd: [] },
    },
    {
      name: "command and args",
      command: ["/bin/sh", "-c"],
      args: ["echo hi"],
      image: { Entrypoint: ["/entry"], Cmd: ["serve"] },
      want: { Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo hi"] },
    },
    {
      name: "args alone keep the image's entrypoint",
      command: [],
      args: ["--port", "80"],
      image: { Entrypoint: ["/entry"], Cmd: ["serve"] },
      want: { Cmd: ["--port", "80"] },
    },
    {
      name: "neither runs the image's",
      command: [],
      args: [],
      image: { Entrypoint: ["/entry"], Cmd: ["serve"] },
      want: {},
    },
    {
      name: "neither, image with only a cmd",
      command: [],
      args: [],
      image: { Cmd: ["sh"] },
      want: {},
    },
    {
      name: "args alone on an image without entrypoint",
      command: [],
      args: ["sleep", "1"],
      image: { Cmd: ["sh"] },
      want: { Cmd: ["sleep", "1"] },
    },
  ];
  for (const { name, command, args, image, want } of cases) {
    test(name, () => assert.deepEqual(processArgs({ command, args }, image), want));
  }
  test("rejects a container with nothing to run", () =>
    assertInvalid(
      () => processArgs({ command: [], args: [] }, { Entrypoint: [""], Cmd: null }),
      /^command: neither the config nor the image names a command to run$/,
    ));
  test("rejects a container with nothing to run and no image config", () =>
    assertInvalid(() => processArgs({ command: [], args: [] }, null), /^command:/));
});

describe("signalName / stopSignalOf", () => {
  const names: Array<{ signal: Signal; want: string | undefined }> = [
    { signal: Signal.RUNTIME_DEFAULT, want: undefined },
    { signal: Signal.SIGTERM, want: "SIGTERM" },
    { signal: Signal.SIGKILL, want: "SIGKILL" },
    { signal: Signal.SIGQUIT, want: "SIGQUIT" },
    { signal: Signal.SIGRTMIN, want: "SIGRTMIN" },
    { signal: Signal.SIGRTMINPLUS1, want: "SIGRTMIN+1" },
    { signal: Signal.SIGRTMINPLUS15, want: "SIGRTMIN+15" },
    { signal: Signal.SIGRTMAXMINUS14, want: "SIGRTMAX-14" },
    { signal: Signal.SIGRTMAX, want: "SIGRTMAX" },
  ];
  for (const { signal, want } of names) {
    test(`${Signal[signal]} → ${want}`, () => assert.equal(signalName(signal), want));
  }
  test("rejects an unknown signal number", () =>
    assertInvalid(() => signalName(99 as Signal), /^stop_signal: unknown value 99/));

  const stops: Array<{ name: string; signal: Signal; image: ImageConfig | null; want: string }> = [
    {
      name: "the config's signal wins",
      signal: Signal.SIGINT,
      image: { StopSignal: "SIGQUIT" },
      want: "SIGINT",
    },
    {
      name: "else the image's",
      signal: Signal.RUNTIME_DEFAULT,
      image: { StopSignal: "SIGQUIT" },
      want: "SIGQUIT",
    },
    { name: "else SIGTERM", signal: Signal.RUNTIME_DEFAULT, image: {}, want: "SIGTERM" },
    { name: "no image config", signal: Signal.RUNTIME_DEFAULT, image: null, want: "SIGTERM" },
  ];
  for (const { name, signal, image, want } of stops) {
    test(`stop signal: ${name}`, () =>
      assert.equal(stopSignalOf({ stopSignal: signal }, image), want));
  }
});

describe("buildContainerCreateBody", () => {
  test("an ordinary kubelet container", () => {
    const { body, warnings } = build(
      {
        metadata: { name: "app", attempt: 1 },
        image: { image: "busybox" },
        command: ["sleep"],
        args: ["3600"],
        workingDir: "/work",
        envs: [
          { key: "A", value: new TextEncoder().encode("1") },
          { key: "B", value: new TextEncoder().encode("x=y") },
        ],
        mounts: [
          {
            hostPath: "/var/lib/kubelet/pods/u/etc-hosts",
            containerPath: "/etc/hosts",
          },
          {
            hostPath: "/var/lib/kubelet/pods/u/containers/app/x",
            containerPath: "/dev/termination-log",
          },
        ],
        labels: { "io.kubernetes.container.name": "app" },
        logPath: "app/1.log",
        linux: {
          resources: {
            cpuShares: 2n,
            cpuPeriod: 100_000n,
            oomScoreAdj: 1000n,
            memoryLimitInBytes: 128n * 1024n * 1024n,
            hugepageLimits: [{ pageSize: "2MB", limit: 0n }],
          },
          securityContext: {
            namespaceOptions: { pid: NamespaceMode.CONTAINER },
            seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
            maskedPaths: KUBELET_MASKED,
            readonlyPaths: KUBELET_READONLY,
          },
        },
      },
      { linux: { cgroupParent: "/kubepods/burstable/podu" } },
    );
    assert.deepEqual(warnings, []);
    const want: SpecCreateBody = {
      Image: IMAGE_ID,
      Entrypoint: ["sleep"],
      Cmd: ["3600"],
      Labels: LABELS,
      StopSignal: "SIGTERM",
      Healthcheck: { Test: ["NONE"] },
      Env: ["A=1", "B=x=y"],
      WorkingDir: "/work",
      HostConfig: {
        NetworkMode: `container:${SANDBOX_ID}`,
        IpcMode: `container:${SANDBOX_ID}`,
        Binds: [
          "/var/lib/kubelet/pods/u/etc-hosts:/etc/hosts",
          "/var/lib/kubelet/pods/u/containers/app/x:/dev/termination-log",
        ],
        MaskedPaths: KUBELET_MASKED,
        ReadonlyPaths: KUBELET_READONLY,
        CpuShares: 2,
        CpuPeriod: 100_000,
        Memory: 134_217_728,
        MemorySwap: 134_217_728,
        OomScoreAdj: 1000,
        CgroupParent: "/kubepods/burstable/podu",
        RestartPolicy: { Name: "no" },
        LogConfig: LOG,
      },
    };
    assert.deepEqual(body, want);
  });

  const fields: Array<{
    name: string;
    config: ConfigInit;
    sandbox?: SandboxInit;
    overrides?: Partial<ContainerSpecInput>;
    check: (body: SpecCreateBody, warnings: string[]) => void;
  }> = [
    {
      name: "no security context: seccomp unconfined (the CRI's default), nothing masked",
      config: { command: ["top"] },
      check: (body) => {
        assert.deepEqual(body.HostConfig.SecurityOpt, ["seccomp=unconfined"]);
        assert.deepEqual(body.HostConfig.MaskedPaths, []);
        assert.deepEqual(body.HostConfig.ReadonlyPaths, []);
        assert.equal(body.User, undefined);
      },
    },
    {
      name: "critest MaskedPaths: exactly the requested path",
      config: { command: ["top"], linux: { securityContext: { maskedPaths: ["/bin/ls"] } } },
      check: (body) => assert.deepEqual(body.HostConfig.MaskedPaths, ["/bin/ls"]),
    },
    {
      name: "host network: UTS follows, never a Hostname",
      config: {
        command: ["top"],
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
      },
      sandbox: {
        hostname: "node-1",
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
      },
      check: (body) => {
        assert.equal(body.HostConfig.NetworkMode, `container:${SANDBOX_ID}`);
        assert.equal(body.HostConfig.UTSMode, "host");
        assert.equal(body.Hostname, undefined);
      },
    },
    {
      name: "critest host-network pod, container without namespace options: follows the sandbox",
      config: { command: ["top"] },
      sandbox: {
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
      },
      check: (body) => {
        assert.equal(body.HostConfig.NetworkMode, `container:${SANDBOX_ID}`);
        assert.equal(body.HostConfig.UTSMode, "host");
      },
    },
    {
      name: "a container asking for NODE in a pod-network sandbox stays in the pod's network",
      config: {
        command: ["top"],
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } },
      },
      check: (body) => {
        assert.equal(body.HostConfig.NetworkMode, `container:${SANDBOX_ID}`);
        assert.equal(body.HostConfig.UTSMode, undefined);
      },
    },
    {
      name: "pod network: Docker copies the pause's hostname, the body sets none",
      config: { command: ["top"] },
      sandbox: { hostname: "web" },
      check: (body) => {
        assert.equal(body.Hostname, undefined);
        assert.equal(body.HostConfig.UTSMode, undefined);
      },
    },
    {
      name: "host IPC and PID",
      config: {
        command: ["top"],
        linux: {
          securityContext: {
            namespaceOptions: { ipc: NamespaceMode.NODE, pid: NamespaceMode.NODE },
          },
        },
      },
      check: (body) => {
        assert.equal(body.HostConfig.IpcMode, "host");
        assert.equal(body.HostConfig.PidMode, "host");
      },
    },
    {
      name: "pod PID namespace (shareProcessNamespace)",
      config: {
        command: ["top"],
        linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
      },
      check: (body) => assert.equal(body.HostConfig.PidMode, `container:${SANDBOX_ID}`),
    },
    {
      name: "container PID namespace is Docker's private default",
      config: {
        command: ["top"],
        linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
      },
      check: (body) => assert.equal(body.HostConfig.PidMode, undefined),
    },
    {
      name: "TARGET PID joins the target container (ephemeral containers)",
      config: {
        command: ["sh"],
        linux: {
          securityContext: {
            namespaceOptions: { pid: NamespaceMode.TARGET, targetId: "cri-id" },
          },
        },
      },
      overrides: { targetContainerId: "c".repeat(64) },
      check: (body) => assert.equal(body.HostConfig.PidMode, `container:${"c".repeat(64)}`),
    },
    {
      name: "TARGET PID falls back to target_id",
      config: {
        command: ["sh"],
        linux: {
          securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET, targetId: "d1" } },
        },
      },
      check: (body) => assert.equal(body.HostConfig.PidMode, "container:d1"),
    },
    {
      name: "CONTAINER IPC is private",
      config: {
        command: ["sh"],
        linux: { securityContext: { namespaceOptions: { ipc: NamespaceMode.CONTAINER } } },
      },
      check: (body) => assert.equal(body.HostConfig.IpcMode, "private"),
    },
    {
      name: "user, group and supplemental groups",
      config: {
        command: ["id"],
        linux: {
          securityContext: {
            runAsUser: { value: 1000n },
            runAsGroup: { value: 3000n },
            supplementalGroups: [1234n],
          },
        },
      },
      check: (body) => {
        assert.equal(body.User, "1000:3000");
        assert.deepEqual(body.HostConfig.GroupAdd, ["1234"]);
      },
    },
    {
      name: "run_as_username",
      config: { command: ["id"], linux: { securityContext: { runAsUsername: "nobody" } } },
      check: (body) => assert.equal(body.User, "nobody"),
    },
    {
      name: "tty and stdin",
      config: { command: ["sh"], tty: true, stdin: true, stdinOnce: true },
      check: (body) => {
        assert.equal(body.Tty, true);
        assert.equal(body.OpenStdin, true);
        assert.equal(body.AttachStdin, true);
        assert.equal(body.StdinOnce, true);
      },
    },
    {
      name: "no tty or stdin leaves them unset",
      config: { command: ["sh"] },
      check: (body) => {
        assert.equal(body.Tty, undefined);
        assert.equal(body.OpenStdin, undefined);
        assert.equal(body.StdinOnce, undefined);
      },
    },
    {
      name: "no working dir, no env: the image's",
      config: { command: ["sh"] },
      check: (body) => {
        assert.equal(body.WorkingDir, undefined);
        assert.equal(body.Env, undefined);
      },
    },
    {
      name: "the config's stop signal",
      config: { command: ["sh"], stopSignal: Signal.SIGUSR1 },
      check: (body) => assert.equal(body.StopSignal, "SIGUSR1"),
    },
    {
      name: "the image's stop signal",
      config: { command: ["sh"] },
      overrides: { image: { id: IMAGE_ID, config: { StopSignal: "SIGQUIT" } } },
      check: (body) => assert.equal(body.StopSignal, "SIGQUIT"),
    },
    {
      name: "capabilities, no_new_privs, readonly rootfs",
      config: {
        command: ["sh"],
        linux: {
          securityContext: {
            capabilities: { addCapabilities: ["NET_ADMIN"], dropCapabilities: ["ALL"] },
            noNewPrivs: true,
            readonlyRootfs: true,
            seccomp: {},
          },
        },
      },
      check: (body) => {
        assert.deepEqual(body.HostConfig.CapAdd, ["CAP_NET_ADMIN"]);
        assert.deepEqual(body.HostConfig.CapDrop, ["ALL"]);
        assert.deepEqual(body.HostConfig.SecurityOpt, ["no-new-privileges"]);
        assert.equal(body.HostConfig.ReadonlyRootfs, true);
      },
    },
    {
      name: "critest adding ALL capabilities on this host",
      config: {
        command: ["sh"],
        linux: { securityContext: { capabilities: { addCapabilities: ["ALL"] } } },
      },
      check: (body) => {
        assert.ok(body.HostConfig.CapAdd?.includes("CAP_SYS_ADMIN"));
        assert.ok(!body.HostConfig.CapAdd?.includes("ALL"));
        assert.ok(!body.HostConfig.CapAdd?.includes("CAP_SYS_RESOURCE"));
      },
    },
    {
      name: "seccomp Localhost, AppArmor Localhost and SELinux on a full host",
      config: {
        command: ["sh"],
        linux: {
          securityContext: {
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/s.json",
            },
            apparmor: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "k8s-nginx",
            },
            selinuxOptions: { level: "s0:c5,c6" },
          },
        },
      },
      overrides: {
        limits: FULL,
        localhostProfiles: new Map([["/s.json", '{"defaultAction":"SCMP_ACT_ERRNO"}']]),
      },
      check: (body) =>
        assert.deepEqual(body.HostConfig.SecurityOpt, [
          'seccomp={"defaultAction":"SCMP_ACT_ERRNO"}',
          "apparmor=k8s-nginx",
          "label=level:s0:c5,c6",
        ]),
    },
    {
      name: "relabel uses the pod's SELinux level when the container has none",
      config: {
        command: ["sh"],
        mounts: [{ hostPath: "/h", containerPath: "/c", selinuxRelabel: true }],
      },
      sandbox: { linux: { securityContext: { selinuxOptions: { level: "s0:c1,c2" } } } },
      check: (body) => assert.deepEqual(body.HostConfig.Binds, ["/h:/c:Z"]),
    },
    {
      name: "a read-only mount on a current engine",
      config: {
        command: ["sh"],
        mounts: [
          {
            hostPath: "/h",
            containerPath: "/c",
            readonly: true,
            propagation: MountPropagation.PROPAGATION_PRIVATE,
          },
        ],
      },
      overrides: { limits: FULL },
      check: (body) =>
        assert.deepEqual(body.HostConfig.Mounts, [
          {
            Type: "bind",
            Source: "/h",
            Target: "/c",
            ReadOnly: true,
            BindOptions: { CreateMountpoint: true, ReadOnlyNonRecursive: true },
          },
        ]),
    },
    {
      name: "devices and CDI devices on a current engine",
      config: {
        command: ["sh"],
        devices: [{ hostPath: "/dev/fuse", containerPath: "/dev/fuse", permissions: "rw" }],
        CDIDevices: [{ name: "nvidia.com/gpu=0" }],
      },
      overrides: { limits: FULL },
      check: (body) => {
        assert.deepEqual(body.HostConfig.Devices, [
          { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rw" },
        ]);
        assert.deepEqual(body.HostConfig.DeviceRequests, [
          { Driver: "cdi", DeviceIDs: ["nvidia.com/gpu=0"] },
        ]);
      },
    },
    {
      name: "privileged with a full bounding set",
      config: {
        command: ["sh"],
        linux: {
          securityContext: {
            privileged: true,
            capabilities: { dropCapabilities: ["ALL"] },
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/s.json",
            },
            maskedPaths: KUBELET_MASKED,
            readonlyPaths: KUBELET_READONLY,
          },
        },
      },
      sandbox: { linux: { securityContext: { privileged: true } } },
      overrides: { limits: FULL },
      check: (body) => {
        assert.equal(body.HostConfig.Privileged, true);
        assert.equal(body.HostConfig.CapDrop, undefined);
        assert.equal(body.HostConfig.CapAdd, undefined);
        assert.deepEqual(body.HostConfig.SecurityOpt, ["label=disable"]);
        assert.deepEqual(body.HostConfig.MaskedPaths, []);
        assert.deepEqual(body.HostConfig.ReadonlyPaths, []);
      },
    },
    {
      name: "privileged emulated: caps, host devices after the config's own, unconfined",
      config: {
        command: ["sh"],
        devices: [{ hostPath: "/dev/fuse", containerPath: "/dev/fuse", permissions: "r" }],
        linux: {
          securityContext: {
            privileged: true,
            noNewPrivs: true,
            maskedPaths: KUBELET_MASKED,
            readonlyPaths: KUBELET_READONLY,
          },
        },
      },
      sandbox: { linux: { securityContext: { privileged: true } } },
      check: (body) => {
        assert.equal(body.HostConfig.Privileged, undefined);
        assert.ok(body.HostConfig.CapAdd?.includes("CAP_NET_ADMIN"));
        assert.equal(body.HostConfig.CapDrop, undefined);
        assert.deepEqual(body.HostConfig.Devices, [
          { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "r" },
          { PathOnHost: "/dev/null", PathInContainer: "/dev/null", CgroupPermissions: "rwm" },
        ]);
        assert.deepEqual(body.HostConfig.DeviceCgroupRules, ["a *:* rwm"]);
        assert.deepEqual(body.HostConfig.SecurityOpt, [
          "seccomp=unconfined",
          "label=disable",
          "no-new-privileges",
        ]);
        assert.deepEqual(body.HostConfig.MaskedPaths, []);
        assert.deepEqual(body.HostConfig.ReadonlyPaths, []);
      },
    },
    {
      name: "runtime, labels and log config",
      config: { command: ["sh"], labels: { ignored: "yes" } },
      overrides: { runtime: "runsc", logConfig: { Type: "none" } },
      check: (body) => {
        assert.equal(body.HostConfig.Runtime, "runsc");
        assert.deepEqual(body.Labels, LABELS);
        assert.deepEqual(body.HostConfig.LogConfig, { Type: "none" });
      },
    },
    {
      name: "the sandbox's cgroup parent in systemd form",
      config: { command: ["sh"] },
      sandbox: { linux: { cgroupParent: "/kubepods/besteffort/pod1-2" } },
      overrides: { limits: FULL },
      check: (body) =>
        assert.equal(body.HostConfig.CgroupParent, "kubepods-besteffort-pod1_2.slice"),
    },
    {
      name: "warnings from resources come back",
      config: {
        command: ["sh"],
        linux: { resources: { unified: { "memory.oom.group": "1" } } },
      },
      overrides: { limits: FULL },
      check: (_body, warnings) => {
        assert.equal(warnings.length, 1);
        assert.match(warnings[0] ?? "", /memory\.oom\.group/);
      },
    },
    {
      name: "oom_score_adj clamped on this host",
      config: { command: ["sh"], linux: { resources: { oomScoreAdj: -997n } } },
      check: (body) => assert.equal(body.HostConfig.OomScoreAdj, undefined),
    },
  ];
  for (const { name, config, sandbox, overrides, check } of fields) {
    test(name, () => {
      const { body, warnings } = build(config, sandbox, overrides);
      check(body, warnings);
    });
  }

  const errors: Array<{
    name: string;
    config: ConfigInit;
    sandbox?: SandboxInit;
    overrides?: Partial<ContainerSpecInput>;
    message: RegExp;
  }> = [
    {
      name: "run_as_group without a user (critest)",
      config: { command: ["id"], linux: { securityContext: { runAsGroup: { value: 10n } } } },
      message: /^linux\.security_context\.run_as_group: needs run_as_user or run_as_username$/,
    },
    {
      name: "a privileged container in a sandbox that is not",
      config: { command: ["sh"], linux: { securityContext: { privileged: true } } },
      message: /^linux\.security_context\.privileged: the pod sandbox was not created privileged/,
    },
    {
      name: "a CONTAINER network",
      config: {
        command: ["sh"],
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.CONTAINER } } },
      },
      message: /^linux\.security_context\.namespace_options\.network: CONTAINER is not supported/,
    },
    {
      name: "TARGET PID without a target",
      config: {
        command: ["sh"],
        linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET } } },
      },
      message: /^linux\.security_context\.namespace_options\.target_id: required/,
    },
    {
      name: "TARGET IPC",
      config: {
        command: ["sh"],
        linux: { securityContext: { namespaceOptions: { ipc: NamespaceMode.TARGET } } },
      },
      message: /^linux\.security_context\.namespace_options\.ipc: TARGET is not supported/,
    },
    {
      name: "user namespaces",
      config: {
        command: ["sh"],
        linux: {
          securityContext: {
            namespaceOptions: { usernsOptions: { mode: NamespaceMode.POD } },
          },
        },
      },
      message: /^linux\.security_context\.namespace_options\.userns_options\.mode: POD/,
    },
    {
      name: "a relative working dir",
      config: { command: ["sh"], workingDir: "work" },
      message: /^working_dir: "work" must be an absolute path/,
    },
    {
      name: "an env without a name",
      config: { command: ["sh"], envs: [{ key: "A" }, { key: "" }] },
      message: /^envs\[1\]\.key:/,
    },
    {
      name: "nothing to run",
      config: {},
      overrides: { image: { id: IMAGE_ID, config: {} } },
      message: /^command:/,
    },
    {
      name: "a missing Localhost seccomp profile file",
      config: {
        command: ["sh"],
        linux: {
          securityContext: {
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/no.json",
            },
          },
        },
      },
      message:
        /^linux\.security_context\.seccomp\.localhost_ref: seccomp profile file \/no\.json does not exist/,
    },
    {
      name: "an AppArmor profile that is not loaded",
      config: {
        command: ["sh"],
        linux: { securityContext: { apparmorProfile: "localhost/missing" } },
      },
      overrides: { limits: FULL },
      message:
        /^linux\.security_context\.apparmor_profile: AppArmor profile "missing" is not loaded/,
    },
    {
      name: "recursive read-only on API 1.41",
      config: {
        command: ["sh"],
        mounts: [{ hostPath: "/h", containerPath: "/c", readonly: true, recursiveReadOnly: true }],
      },
      message: /^mounts\[0\]\.recursive_read_only:/,
    },
    {
      name: "an image volume on API 1.41",
      config: { command: ["sh"], mounts: [{ containerPath: "/c", image: { image: "busybox" } }] },
      message: /^mounts\[0\]\.image: image volumes need Docker Engine API 1\.48/,
    },
    {
      name: "CDI devices on API 1.41",
      config: { command: ["sh"], CDIDevices: [{ name: "nvidia.com/gpu=0" }] },
      message: /^CDI_devices\[0\]\.name: CDI devices need Docker Engine API 1\.44/,
    },
    {
      name: "a capability this host cannot grant",
      config: {
        command: ["sh"],
        linux: { securityContext: { capabilities: { addCapabilities: ["SYS_RESOURCE"] } } },
      },
      message: /^linux\.security_context\.capabilities\.add_capabilities\[0\]: CAP_SYS_RESOURCE/,
    },
    {
      name: "a swap limit without a memory limit",
      config: { command: ["sh"], linux: { resources: { memorySwapLimitInBytes: 1024n } } },
      message: /^linux\.resources\.memory_swap_limit_in_bytes:/,
    },
  ];
  for (const { name, config, sandbox, overrides, message } of errors) {
    test(`rejects ${name}`, () => assertInvalid(() => build(config, sandbox, overrides), message));
  }
});
