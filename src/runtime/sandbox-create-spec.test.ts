import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { assertInvalid, FULL_HOST, RESTRICTED_HOST } from "../../test/support/spec-fixtures.ts";
import {
  NamespaceMode,
  PodSandboxConfigSchema,
  PodSandboxMetadataSchema,
  SecurityProfile_ProfileType,
} from "../gen/runtime/v1/api_pb.js";
import type { HostLimits } from "./host-limits.ts";
import {
  buildSandboxCreateBody,
  type SandboxSpecInput,
  sandboxSysctls,
} from "./sandbox-create-spec.ts";

const RESTRICTED: HostLimits = { ...RESTRICTED_HOST, hostDevices: [{ path: "/dev/null" }] };
const FULL: HostLimits = {
  ...FULL_HOST,
  recursiveReadOnly: false,
  hostDevices: [{ path: "/dev/null" }],
  appArmorEnabled: false,
  loadedAppArmorProfiles: new Set(),
};

const LABELS = { "io.berth.managed": "true", "io.kubernetes.pod.name": "web" };
const METADATA = { name: "web", namespace: "default", uid: "5f2c-4a1b", attempt: 0 };

function input(
  config: MessageInitShape<typeof PodSandboxConfigSchema>,
  overrides: Partial<SandboxSpecInput> = {},
): SandboxSpecInput {
  const full = create(PodSandboxConfigSchema, config);
  full.metadata ??= create(PodSandboxMetadataSchema, METADATA);
  return {
    config: full,
    image: "registry.k8s.io/pause:3.10",
    labels: LABELS,
    limits: RESTRICTED,
    ...overrides,
  };
}

describe("buildSandboxCreateBody", () => {
  test("a pod-network pod, as the kubelet sends it", () => {
    const body = buildSandboxCreateBody(
      input({
        hostname: "web",
        dnsConfig: {
          servers: ["10.96.0.10"],
          searches: ["default.svc.cluster.local", "svc.cluster.local"],
          options: ["ndots:5"],
        },
        portMappings: [{ containerPort: 80, hostPort: 8080 }],
        linux: {
          cgroupParent: "/kubepods/besteffort/pod5f2c-4a1b",
          securityContext: {
            namespaceOptions: { pid: NamespaceMode.CONTAINER },
            seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
          },
          sysctls: { "net.ipv4.ip_unprivileged_port_start": "0" },
        },
      }),
    );
    assert.deepEqual(body, {
      Image: "registry.k8s.io/pause:3.10",
      Labels: LABELS,
      Hostname: "web",
      HostConfig: {
        NetworkMode: "none",
        IpcMode: "shareable",
        Dns: ["10.96.0.10"],
        DnsSearch: ["default.svc.cluster.local", "svc.cluster.local"],
        DnsOptions: ["ndots:5"],
        Sysctls: { "net.ipv4.ip_unprivileged_port_start": "0" },
        CgroupParent: "/kubepods/besteffort/pod5f2c-4a1b",
        CpuShares: 2,
        SecurityOpt: ["no-new-privileges"],
        RestartPolicy: { Name: "no" },
        LogConfig: { Type: "none" },
      },
    });
  });

  test("a host-network pod shares the node's network, UTS, IPC and PID namespaces", () => {
    const body = buildSandboxCreateBody(
      input(
        {
          hostname: "node-1",
          linux: {
            securityContext: {
              namespaceOptions: {
                network: NamespaceMode.NODE,
                ipc: NamespaceMode.NODE,
                pid: NamespaceMode.NODE,
              },
            },
          },
        },
        { runtime: "runc", limits: FULL },
      ),
    );
    assert.equal(body.Hostname, undefined, "a hostname would rename the node");
    assert.equal(body.HostConfig?.NetworkMode, "host");
    assert.equal(body.HostConfig?.UTSMode, "host");
    assert.equal(body.HostConfig?.IpcMode, "host");
    assert.equal(body.HostConfig?.PidMode, "host");
    assert.equal(body.HostConfig?.Runtime, "runc");
    assert.equal(body.HostConfig?.OomScoreAdj, -998);
    assert.deepEqual(body.HostConfig?.SecurityOpt, ["no-new-privileges", "seccomp=unconfined"]);
  });

  const fields: Array<{
    name: string;
    config: MessageInitShape<typeof PodSandboxConfigSchema>;
    limits?: HostLimits;
    overrides?: Partial<SandboxSpecInput>;
    check: (body: ReturnType<typeof buildSandboxCreateBody>) => void;
  }> = [
    {
      name: "the pause's oom_score_adj -998 is clamped where the host cannot lower it",
      config: {},
      check: (body) => assert.equal(body.HostConfig?.OomScoreAdj, undefined),
    },
    {
      name: "oom_score_adj -998 on a normal host",
      config: {},
      limits: FULL,
      check: (body) => assert.equal(body.HostConfig?.OomScoreAdj, -998),
    },
    {
      name: "systemd driver: cgroupfs parent becomes a slice",
      config: { linux: { cgroupParent: "/kubepods/burstable/pod5f2c-4a1b" } },
      limits: FULL,
      check: (body) =>
        assert.equal(body.HostConfig?.CgroupParent, "kubepods-burstable-pod5f2c_4a1b.slice"),
    },
    {
      name: "run_as_user and run_as_group for the pause",
      config: {
        linux: { securityContext: { runAsUser: { value: 65535n }, runAsGroup: { value: 65535n } } },
      },
      check: (body) => assert.equal(body.User, "65535:65535"),
    },
    {
      name: "readonly rootfs and supplemental groups",
      config: { linux: { securityContext: { readonlyRootfs: true, supplementalGroups: [2000n] } } },
      check: (body) => {
        assert.equal(body.HostConfig?.ReadonlyRootfs, true);
        assert.deepEqual(body.HostConfig?.GroupAdd, ["2000"]);
      },
    },
    {
      name: "SELinux options become label= options",
      config: {
        linux: { securityContext: { selinuxOptions: { type: "spc_t", level: "s0:c1,c2" } } },
      },
      check: (body) =>
        assert.deepEqual(body.HostConfig?.SecurityOpt, [
          "no-new-privileges",
          "seccomp=unconfined",
          "label=type:spc_t",
          "label=level:s0:c1,c2",
        ]),
    },
    {
      name: "a Localhost seccomp profile for the pause",
      config: {
        linux: {
          securityContext: {
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/p.json",
            },
          },
        },
      },
      overrides: {
        localhostProfiles: new Map([["/p.json", '{"defaultAction":"SCMP_ACT_ALLOW"}']]),
      },
      check: (body) =>
        assert.deepEqual(body.HostConfig?.SecurityOpt, [
          "no-new-privileges",
          'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}',
        ]),
    },
    {
      name: "privileged with a full bounding set is Docker's privileged",
      config: { linux: { securityContext: { privileged: true } } },
      limits: FULL,
      check: (body) => {
        assert.equal(body.HostConfig?.Privileged, true);
        assert.equal(body.HostConfig?.CapAdd, undefined);
        assert.deepEqual(body.HostConfig?.SecurityOpt, ["no-new-privileges", "label=disable"]);
      },
    },
    {
      name: "privileged without a full bounding set is emulated",
      config: { linux: { securityContext: { privileged: true } } },
      check: (body) => {
        assert.equal(body.HostConfig?.Privileged, undefined);
        assert.ok(body.HostConfig?.CapAdd?.includes("CAP_SYS_ADMIN"));
        assert.ok(!body.HostConfig?.CapAdd?.includes("CAP_SYS_RESOURCE"));
        assert.deepEqual(body.HostConfig?.Devices, [
          { PathOnHost: "/dev/null", PathInContainer: "/dev/null", CgroupPermissions: "rwm" },
        ]);
        assert.deepEqual(body.HostConfig?.DeviceCgroupRules, ["a *:* rwm"]);
        assert.deepEqual(body.HostConfig?.MaskedPaths, []);
        assert.deepEqual(body.HostConfig?.ReadonlyPaths, []);
        assert.deepEqual(body.HostConfig?.SecurityOpt, [
          "no-new-privileges",
          "seccomp=unconfined",
          "label=disable",
        ]);
      },
    },
    {
      name: "the lead's own resolv.conf is bound instead of Docker's DNS fields",
      config: { dnsConfig: { servers: ["10.96.0.10"] } },
      overrides: { resolvConfPath: "/run/berth/sandboxes/x/resolv.conf" },
      check: (body) => {
        assert.deepEqual(body.HostConfig?.Binds, [
          "/run/berth/sandboxes/x/resolv.conf:/etc/resolv.conf:z",
        ]);
        assert.equal(body.HostConfig?.Dns, undefined);
      },
    },
    {
      name: "an empty DNS config keeps Docker's defaults",
      config: { dnsConfig: {} },
      check: (body) => {
        assert.equal(body.HostConfig?.Dns, undefined);
        assert.equal(body.HostConfig?.DnsSearch, undefined);
        assert.equal(body.HostConfig?.DnsOptions, undefined);
      },
    },
    {
      name: "no hostname leaves Docker's",
      config: {},
      check: (body) => assert.equal(body.Hostname, undefined),
    },
    {
      name: "labels are passed verbatim",
      config: { labels: { app: "web" } },
      check: (body) => assert.deepEqual(body.Labels, LABELS),
    },
  ];
  for (const { name, config, limits, overrides, check } of fields) {
    test(name, () =>
      check(buildSandboxCreateBody(input(config, { limits: limits ?? RESTRICTED, ...overrides }))),
    );
  }

  const errors: Array<{
    name: string;
    config: MessageInitShape<typeof PodSandboxConfigSchema>;
    limits?: HostLimits;
    message: RegExp;
  }> = [
    {
      name: "run_as_group without run_as_user",
      config: { linux: { securityContext: { runAsGroup: { value: 1n } } } },
      message: /^linux\.security_context\.run_as_group: needs run_as_user or run_as_username$/,
    },
    {
      name: "net.* sysctls for a host-network pod",
      config: {
        linux: {
          securityContext: { namespaceOptions: { network: NamespaceMode.NODE } },
          sysctls: { "net.ipv4.ip_local_port_range": "1024 65000" },
        },
      },
      message: /^linux\.sysctls\["net\.ipv4\.ip_local_port_range"\]: not allowed .*host's network/,
    },
    {
      name: "user namespaces",
      config: {
        linux: {
          securityContext: {
            namespaceOptions: { usernsOptions: { mode: NamespaceMode.POD } },
          },
        },
      },
      message:
        /^linux\.security_context\.namespace_options\.userns_options\.mode: POD is not supported/,
    },
    {
      name: "a CONTAINER network",
      config: {
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.CONTAINER } } },
      },
      message: /^linux\.security_context\.namespace_options\.network: CONTAINER is not valid/,
    },
    {
      name: "a TARGET pid namespace",
      config: { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET } } } },
      message: /^linux\.security_context\.namespace_options\.pid: TARGET/,
    },
    {
      name: "a Localhost seccomp profile the lead did not read",
      config: {
        linux: {
          securityContext: {
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/p.json",
            },
          },
        },
      },
      message: /^linux\.security_context\.seccomp\.localhost_ref: seccomp profile file \/p\.json/,
    },
  ];
  for (const { name, config, limits, message } of errors) {
    test(`rejects ${name}`, () =>
      assertInvalid(
        () => buildSandboxCreateBody(input(config, { limits: limits ?? RESTRICTED })),
        message,
      ));
  }
});

describe("sandboxSysctls", () => {
  const POD = { hostNetwork: false, hostIpc: false };
  const cases: Array<{
    name: string;
    sysctls: Record<string, string>;
    ns?: typeof POD;
    want: Record<string, string>;
  }> = [
    {
      name: "safe sysctls (critest)",
      sysctls: { "kernel.shm_rmid_forced": "1", "net.ipv4.ip_local_port_range": "1024 65000" },
      want: { "kernel.shm_rmid_forced": "1", "net.ipv4.ip_local_port_range": "1024 65000" },
    },
    {
      name: "unsafe but namespaced sysctls (critest)",
      sysctls: { "kernel.msgmax": "10000", "fs.mqueue.msg_max": "100" },
      want: { "kernel.msgmax": "10000", "fs.mqueue.msg_max": "100" },
    },
    {
      name: "slash-separated names become dotted, dots inside names become slashes",
      sysctls: { "net/ipv4/conf/eth0.100/rp_filter": "1" },
      want: { "net.ipv4.conf.eth0/100.rp_filter": "1" },
    },
    {
      name: "IPC sysctls are fine for a host-network pod",
      sysctls: { "kernel.shm_rmid_forced": "1" },
      ns: { hostNetwork: true, hostIpc: false },
      want: { "kernel.shm_rmid_forced": "1" },
    },
    {
      name: "net sysctls are fine for a host-IPC pod",
      sysctls: { "net.ipv4.tcp_syncookies": "1" },
      ns: { hostNetwork: false, hostIpc: true },
      want: { "net.ipv4.tcp_syncookies": "1" },
    },
    { name: "none", sysctls: {}, want: {} },
  ];
  for (const { name, sysctls, ns, want } of cases) {
    test(name, () => assert.deepEqual(sandboxSysctls(sysctls, ns ?? POD), want));
  }
  const errors: Array<{
    name: string;
    sysctls: Record<string, string>;
    ns: typeof POD;
    message: RegExp;
  }> = [
    {
      name: "a node-wide sysctl",
      sysctls: { "vm.swappiness": "10" },
      ns: POD,
      message: /^linux\.sysctls\["vm\.swappiness"\]: not a namespaced sysctl/,
    },
    {
      name: "an IPC sysctl for a host-IPC pod",
      sysctls: { "kernel.shm_rmid_forced": "1" },
      ns: { hostNetwork: false, hostIpc: true },
      message: /^linux\.sysctls\["kernel\.shm_rmid_forced"\]: not allowed .*host's IPC/,
    },
    {
      name: "an mqueue sysctl for a host-IPC pod",
      sysctls: { "fs.mqueue.msg_max": "100" },
      ns: { hostNetwork: false, hostIpc: true },
      message: /^linux\.sysctls\["fs\.mqueue\.msg_max"\]: not allowed/,
    },
    {
      name: "a UTS sysctl for a host-network pod",
      sysctls: { "kernel.domainname": "example.com" },
      ns: { hostNetwork: true, hostIpc: false },
      message: /^linux\.sysctls\["kernel\.domainname"\]: not allowed .*UTS/,
    },
  ];
  for (const { name, sysctls, ns, message } of errors) {
    test(`rejects ${name}`, () => assertInvalid(() => sandboxSysctls(sysctls, ns), message));
  }
});
