import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { assertInvalid, FULL_HOST, RESTRICTED_HOST } from "../../test/support/spec-fixtures.ts";
import {
  CapabilitySchema,
  ContainerConfigSchema,
  type LinuxContainerSecurityContext,
  LinuxContainerSecurityContextSchema,
  PodSandboxConfigSchema,
  SecurityProfile_ProfileType,
  SupplementalGroupsPolicy,
} from "../gen/runtime/v1/api_pb.js";
import { CAPABILITY_NAMES } from "./capabilities.ts";
import type { HostLimits } from "./host-limits.ts";
import {
  appArmorProfileOf,
  appArmorSecurityOpts,
  capabilitySettings,
  clampOomScoreAdj,
  grantableCapabilities,
  groupAddOf,
  privilegedSettings,
  profileFilesNeeded,
  type ResolvedProfile,
  seccompProfileOf,
  seccompSecurityOpts,
  selinuxSecurityOpts,
  userOf,
} from "./security-spec.ts";

const P = "linux.security_context";
const BOUNDING = CAPABILITY_NAMES.filter((name) => name !== "CAP_SYS_RESOURCE");

/** This CI host: Docker 20.10, no CAP_SYS_RESOURCE, no AppArmor. */
const RESTRICTED = RESTRICTED_HOST;

/** A real node with a current engine (cgroup v1 here). */
const FULL: HostLimits = {
  ...FULL_HOST,
  cgroupDriver: "cgroupfs",
  cgroupVersion: 1,
  loadedAppArmorProfiles: new Set(["berth-test-profile"]),
};

function sc(init: Parameters<typeof create<typeof LinuxContainerSecurityContextSchema>>[1]) {
  return create(LinuxContainerSecurityContextSchema, init);
}

describe("seccompProfileOf", () => {
  const cases: Array<{
    name: string;
    sc: LinuxContainerSecurityContext | undefined;
    want: Pick<ResolvedProfile, "kind" | "ref">;
  }> = [
    {
      name: "no security context at all is Unconfined (critest: nil profile)",
      sc: undefined,
      want: { kind: "Unconfined", ref: "" },
    },
    {
      name: "absent seccomp and empty deprecated path is Unconfined (api.proto default)",
      sc: sc({}),
      want: { kind: "Unconfined", ref: "" },
    },
    {
      name: "a present zero-valued seccomp message is RuntimeDefault",
      sc: sc({ seccomp: {} }),
      want: { kind: "RuntimeDefault", ref: "" },
    },
    {
      name: "structured Unconfined",
      sc: sc({ seccomp: { profileType: SecurityProfile_ProfileType.Unconfined } }),
      want: { kind: "Unconfined", ref: "" },
    },
    {
      name: "structured Localhost",
      sc: sc({
        seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: "/p.json" },
      }),
      want: { kind: "Localhost", ref: "/p.json" },
    },
    {
      name: "structured seccomp wins over the deprecated path",
      sc: sc({ seccomp: {}, seccompProfilePath: "unconfined" }),
      want: { kind: "RuntimeDefault", ref: "" },
    },
    {
      name: "deprecated runtime/default",
      sc: sc({ seccompProfilePath: "runtime/default" }),
      want: { kind: "RuntimeDefault", ref: "" },
    },
    {
      name: "deprecated docker/default",
      sc: sc({ seccompProfilePath: "docker/default" }),
      want: { kind: "RuntimeDefault", ref: "" },
    },
    {
      name: "deprecated unconfined",
      sc: sc({ seccompProfilePath: "unconfined" }),
      want: { kind: "Unconfined", ref: "" },
    },
    {
      name: "deprecated localhost/<path>",
      sc: sc({ seccompProfilePath: "localhost//var/lib/kubelet/seccomp/a.json" }),
      want: { kind: "Localhost", ref: "/var/lib/kubelet/seccomp/a.json" },
    },
  ];
  for (const { name, sc: context, want } of cases) {
    test(name, () => {
      const got = seccompProfileOf(context, P);
      assert.deepEqual({ kind: got.kind, ref: got.ref }, want);
    });
  }

  const errors: Array<{ name: string; sc: LinuxContainerSecurityContext; message: RegExp }> = [
    {
      name: "unknown deprecated value",
      sc: sc({ seccompProfilePath: "bogus" }),
      message: /^linux\.security_context\.seccomp_profile_path: "bogus"/,
    },
    {
      name: "relative deprecated localhost path",
      sc: sc({ seccompProfilePath: "localhost/a.json" }),
      message: /^linux\.security_context\.seccomp_profile_path: .*must be an absolute path/,
    },
    {
      name: "Localhost without a ref",
      sc: sc({ seccomp: { profileType: SecurityProfile_ProfileType.Localhost } }),
      message: /^linux\.security_context\.seccomp\.localhost_ref: required/,
    },
    {
      name: "relative structured ref",
      sc: sc({
        seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: "a.json" },
      }),
      message: /^linux\.security_context\.seccomp\.localhost_ref: .*absolute/,
    },
    {
      name: "unknown profile type",
      sc: sc({ seccomp: { profileType: 7 as SecurityProfile_ProfileType } }),
      message: /^linux\.security_context\.seccomp\.profile_type: unknown value 7/,
    },
  ];
  for (const { name, sc: context, message } of errors) {
    test(`rejects ${name}`, () => assertInvalid(() => seccompProfileOf(context, P), message));
  }
});

describe("appArmorProfileOf", () => {
  const cases: Array<{
    name: string;
    sc: LinuxContainerSecurityContext | undefined;
    want: Pick<ResolvedProfile, "kind" | "ref">;
  }> = [
    { name: "unset is RuntimeDefault", sc: sc({}), want: { kind: "RuntimeDefault", ref: "" } },
    { name: "no context", sc: undefined, want: { kind: "RuntimeDefault", ref: "" } },
    {
      name: "deprecated runtime/default",
      sc: sc({ apparmorProfile: "runtime/default" }),
      want: { kind: "RuntimeDefault", ref: "" },
    },
    {
      name: "deprecated unconfined",
      sc: sc({ apparmorProfile: "unconfined" }),
      want: { kind: "Unconfined", ref: "" },
    },
    {
      name: "deprecated localhost/<name>",
      sc: sc({ apparmorProfile: "localhost/k8s-nginx" }),
      want: { kind: "Localhost", ref: "k8s-nginx" },
    },
    {
      name: "structured wins over deprecated",
      sc: sc({
        apparmor: { profileType: SecurityProfile_ProfileType.Unconfined },
        apparmorProfile: "localhost/x",
      }),
      want: { kind: "Unconfined", ref: "" },
    },
    {
      name: "structured Localhost",
      sc: sc({
        apparmor: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: "p" },
      }),
      want: { kind: "Localhost", ref: "p" },
    },
  ];
  for (const { name, sc: context, want } of cases) {
    test(name, () => {
      const got = appArmorProfileOf(context, P);
      assert.deepEqual({ kind: got.kind, ref: got.ref }, want);
    });
  }
  test("rejects an unknown deprecated value naming apparmor_profile", () =>
    assertInvalid(
      () => appArmorProfileOf(sc({ apparmorProfile: "enforce" }), P),
      /^linux\.security_context\.apparmor_profile: "enforce"/,
    ));
});

describe("seccompSecurityOpts", () => {
  const profiles = new Map([
    ["/good.json", '{ "defaultAction": "SCMP_ACT_ALLOW" }'],
    ["/broken.json", "{ nope"],
    ["/array.json", "[]"],
  ]);
  const profile = (kind: ResolvedProfile["kind"], ref = ""): ResolvedProfile => ({
    kind,
    ref,
    field: `${P}.seccomp.localhost_ref`,
  });
  const cases: Array<{
    name: string;
    profile: ResolvedProfile;
    limits: HostLimits;
    want: string[];
  }> = [
    {
      name: "RuntimeDefault is Docker's default",
      profile: profile("RuntimeDefault"),
      limits: RESTRICTED,
      want: [],
    },
    {
      name: "Unconfined switches Docker's default off",
      profile: profile("Unconfined"),
      limits: RESTRICTED,
      want: ["seccomp=unconfined"],
    },
    {
      name: "Localhost travels inline, compacted",
      profile: profile("Localhost", "/good.json"),
      limits: RESTRICTED,
      want: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'],
    },
    {
      name: "without engine seccomp Unconfined is a no-op",
      profile: profile("Unconfined"),
      limits: { ...RESTRICTED, seccompEnabled: false },
      want: [],
    },
    {
      name: "without engine seccomp RuntimeDefault is a no-op",
      profile: profile("RuntimeDefault"),
      limits: { ...RESTRICTED, seccompEnabled: false },
      want: [],
    },
  ];
  for (const { name, profile: p, limits, want } of cases) {
    test(name, () => assert.deepEqual(seccompSecurityOpts(p, limits, profiles), want));
  }
  const errors: Array<{
    name: string;
    profile: ResolvedProfile;
    limits: HostLimits;
    message: RegExp;
  }> = [
    {
      name: "a profile file the lead could not read",
      profile: profile("Localhost", "/missing.json"),
      limits: RESTRICTED,
      message:
        /^linux\.security_context\.seccomp\.localhost_ref: seccomp profile file \/missing\.json does not exist/,
    },
    {
      name: "a profile that is not JSON",
      profile: profile("Localhost", "/broken.json"),
      limits: RESTRICTED,
      message: /localhost_ref: seccomp profile file \/broken\.json is not valid JSON/,
    },
    {
      name: "a profile that is not an object",
      profile: profile("Localhost", "/array.json"),
      limits: RESTRICTED,
      message: /localhost_ref: .*must hold a JSON object/,
    },
    {
      name: "a Localhost profile on an engine without seccomp",
      profile: profile("Localhost", "/good.json"),
      limits: { ...RESTRICTED, seccompEnabled: false },
      message: /localhost_ref: .*without seccomp support/,
    },
  ];
  for (const { name, profile: p, limits, message } of errors) {
    test(`rejects ${name}`, () =>
      assertInvalid(() => seccompSecurityOpts(p, limits, profiles), message));
  }
});

describe("appArmorSecurityOpts", () => {
  const profile = (kind: ResolvedProfile["kind"], ref = ""): ResolvedProfile => ({
    kind,
    ref,
    field: `${P}.apparmor.localhost_ref`,
  });
  const cases: Array<{
    name: string;
    profile: ResolvedProfile;
    limits: HostLimits;
    want: string[];
  }> = [
    {
      name: "RuntimeDefault: Docker applies docker-default",
      profile: profile("RuntimeDefault"),
      limits: FULL,
      want: [],
    },
    {
      name: "Unconfined",
      profile: profile("Unconfined"),
      limits: FULL,
      want: ["apparmor=unconfined"],
    },
    {
      name: "a loaded Localhost profile",
      profile: profile("Localhost", "berth-test-profile"),
      limits: FULL,
      want: ["apparmor=berth-test-profile"],
    },
    {
      name: "no AppArmor: RuntimeDefault is a no-op",
      profile: profile("RuntimeDefault"),
      limits: RESTRICTED,
      want: [],
    },
    {
      name: "no AppArmor: Unconfined is a no-op",
      profile: profile("Unconfined"),
      limits: RESTRICTED,
      want: [],
    },
  ];
  for (const { name, profile: p, limits, want } of cases) {
    test(name, () => assert.deepEqual(appArmorSecurityOpts(p, limits), want));
  }
  test("rejects a Localhost profile that is not loaded, at create", () =>
    assertInvalid(
      () => appArmorSecurityOpts(profile("Localhost", "nope"), FULL),
      /^linux\.security_context\.apparmor\.localhost_ref: AppArmor profile "nope" is not loaded/,
    ));
  test("rejects a Localhost profile on a host without AppArmor", () =>
    assertInvalid(
      () => appArmorSecurityOpts(profile("Localhost", "berth-test-profile"), RESTRICTED),
      /^linux\.security_context\.apparmor\.localhost_ref: .*AppArmor is not enabled/,
    ));
});

describe("selinuxSecurityOpts", () => {
  test("each non-empty part becomes a label= option", () => {
    assert.deepEqual(
      selinuxSecurityOpts(
        create(LinuxContainerSecurityContextSchema, {
          selinuxOptions: { user: "system_u", role: "", type: "container_t", level: "s0:c1,c2" },
        }).selinuxOptions,
      ),
      ["label=user:system_u", "label=type:container_t", "label=level:s0:c1,c2"],
    );
  });
  test("no options, no labels", () => assert.deepEqual(selinuxSecurityOpts(undefined), []));
});

describe("userOf", () => {
  const cases: Array<{
    name: string;
    sc: LinuxContainerSecurityContext | undefined;
    want: string | undefined;
  }> = [
    { name: "nothing keeps the image's user", sc: sc({}), want: undefined },
    { name: "no context", sc: undefined, want: undefined },
    { name: "run_as_user", sc: sc({ runAsUser: { value: 1000n } }), want: "1000" },
    { name: "run_as_user 0 is root, not unset", sc: sc({ runAsUser: { value: 0n } }), want: "0" },
    { name: "run_as_username", sc: sc({ runAsUsername: "nobody" }), want: "nobody" },
    {
      name: "run_as_user with run_as_group",
      sc: sc({ runAsUser: { value: 1000n }, runAsGroup: { value: 2000n } }),
      want: "1000:2000",
    },
    {
      name: "run_as_username with run_as_group",
      sc: sc({ runAsUsername: "nobody", runAsGroup: { value: 0n } }),
      want: "nobody:0",
    },
  ];
  for (const { name, sc: context, want } of cases) {
    test(name, () => assert.equal(userOf(context, P), want));
  }
  const errors: Array<{ name: string; sc: LinuxContainerSecurityContext; message: RegExp }> = [
    {
      name: "run_as_group without a user (critest)",
      sc: sc({ runAsGroup: { value: 10n } }),
      message: /^linux\.security_context\.run_as_group: needs run_as_user or run_as_username$/,
    },
    {
      name: "both run_as_user and run_as_username",
      sc: sc({ runAsUser: { value: 1n }, runAsUsername: "x" }),
      message: /^linux\.security_context\.run_as_username: only one of/,
    },
    {
      name: "a negative uid",
      sc: sc({ runAsUser: { value: -1n } }),
      message: /^linux\.security_context\.run_as_user: -1 is not a valid id/,
    },
    {
      name: "a username with a colon",
      sc: sc({ runAsUsername: "a:b" }),
      message: /^linux\.security_context\.run_as_username:/,
    },
  ];
  for (const { name, sc: context, message } of errors) {
    test(`rejects ${name}`, () => assertInvalid(() => userOf(context, P), message));
  }
});

describe("groupAddOf", () => {
  test("supplemental groups as strings", () =>
    assert.deepEqual(groupAddOf(sc({ supplementalGroups: [1234n, 0n] }), P), ["1234", "0"]));
  test("none", () => assert.equal(groupAddOf(sc({}), P), undefined));
  test("the same groups under the Strict policy (the user's group makes it strict)", () =>
    assert.deepEqual(
      groupAddOf(
        sc({
          supplementalGroups: [1234n],
          supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict,
        }),
        P,
      ),
      ["1234"],
    ));
  test("rejects an unknown policy", () =>
    assertInvalid(
      () => groupAddOf(sc({ supplementalGroupsPolicy: 7 as SupplementalGroupsPolicy }), P),
      /^linux\.security_context\.supplemental_groups_policy: unknown value 7/,
    ));
  test("rejects a negative group naming its index", () =>
    assertInvalid(
      () => groupAddOf(sc({ supplementalGroups: [1n, -5n] }), P),
      /^linux\.security_context\.supplemental_groups\[1\]: -5/,
    ));
});

describe("capabilitySettings", () => {
  const caps = (add: string[], drop: string[] = []) =>
    create(CapabilitySchema, { addCapabilities: add, dropCapabilities: drop });
  const grantable41 = BOUNDING.filter(
    (name) => !["CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"].includes(name),
  );
  const cases: Array<{
    name: string;
    caps: ReturnType<typeof caps> | undefined;
    limits: HostLimits;
    want: { CapAdd?: string[]; CapDrop?: string[] };
  }> = [
    { name: "no capabilities message", caps: undefined, limits: FULL, want: {} },
    {
      name: "CRI names get the CAP_ prefix",
      caps: caps(["NET_ADMIN"], ["NET_RAW"]),
      limits: RESTRICTED,
      want: { CapAdd: ["CAP_NET_ADMIN"], CapDrop: ["CAP_NET_RAW"] },
    },
    {
      name: "prefixed and lower-case names are normalised",
      caps: caps(["cap_sys_ptrace"], ["Chown"]),
      limits: RESTRICTED,
      want: { CapAdd: ["CAP_SYS_PTRACE"], CapDrop: ["CAP_CHOWN"] },
    },
    {
      name: "drop ALL then add X leaves X",
      caps: caps(["NET_BIND_SERVICE"], ["ALL"]),
      limits: RESTRICTED,
      want: { CapAdd: ["CAP_NET_BIND_SERVICE"], CapDrop: ["ALL"] },
    },
    {
      name: "drop ALL wins over add ALL (containerd's order)",
      caps: caps(["ALL"], ["ALL"]),
      limits: FULL,
      want: { CapDrop: ["ALL"] },
    },
    {
      name: "add ALL with a full bounding set is Docker's ALL",
      caps: caps(["ALL"], ["NET_RAW"]),
      limits: FULL,
      want: { CapAdd: ["ALL"], CapDrop: ["CAP_NET_RAW"] },
    },
    {
      name: "add ALL without a full bounding set is the grantable list, minus drops",
      caps: caps(["ALL"], ["NET_RAW"]),
      limits: RESTRICTED,
      want: {
        CapAdd: grantable41.filter((name) => name !== "CAP_NET_RAW"),
        CapDrop: ["CAP_NET_RAW"],
      },
    },
    {
      name: "a capability both added and dropped is dropped",
      caps: caps(["NET_ADMIN", "SYS_TIME"], ["NET_ADMIN"]),
      limits: RESTRICTED,
      want: { CapAdd: ["CAP_SYS_TIME"], CapDrop: ["CAP_NET_ADMIN"] },
    },
    {
      name: "dropping a capability the old engine does not know is left out",
      caps: caps([], ["PERFMON", "NET_RAW"]),
      limits: RESTRICTED,
      want: { CapDrop: ["CAP_NET_RAW"] },
    },
    {
      name: "a new engine may add CAP_BPF",
      caps: caps(["BPF"]),
      limits: FULL,
      want: { CapAdd: ["CAP_BPF"] },
    },
  ];
  for (const { name, caps: c, limits, want } of cases) {
    test(name, () => assert.deepEqual(capabilitySettings(c, limits, P), want));
  }
  const errors: Array<{
    name: string;
    caps: ReturnType<typeof caps>;
    limits: HostLimits;
    message: RegExp;
  }> = [
    {
      name: "an unknown capability, naming its index",
      caps: caps(["NET_ADMIN", "FLY"]),
      limits: FULL,
      message:
        /^linux\.security_context\.capabilities\.add_capabilities\[1\]: unknown capability "FLY"/,
    },
    {
      name: "an unknown dropped capability",
      caps: caps([], ["NOPE"]),
      limits: FULL,
      message: /^linux\.security_context\.capabilities\.drop_capabilities\[0\]: unknown capability/,
    },
    {
      name: "a capability outside the host's bounding set",
      caps: caps(["SYS_RESOURCE"]),
      limits: RESTRICTED,
      message:
        /add_capabilities\[0\]: CAP_SYS_RESOURCE is not in this host's capability bounding set/,
    },
    {
      name: "a capability API 1.41 does not know",
      caps: caps(["PERFMON"]),
      limits: RESTRICTED,
      message: /add_capabilities\[0\]: Docker Engine API 1\.41 does not know CAP_PERFMON/,
    },
    {
      name: "ambient capabilities",
      caps: create(CapabilitySchema, { addAmbientCapabilities: ["NET_BIND_SERVICE"] }),
      limits: FULL,
      message: /^linux\.security_context\.capabilities\.add_ambient_capabilities:/,
    },
  ];
  for (const { name, caps: c, limits, message } of errors) {
    test(`rejects ${name}`, () => assertInvalid(() => capabilitySettings(c, limits, P), message));
  }
});

describe("privilegedSettings", () => {
  test("a full bounding set uses Docker's own privileged mode", () => {
    assert.deepEqual(privilegedSettings(FULL), {
      Privileged: true,
      Devices: [],
      SecurityOpt: ["label=disable"],
    });
  });
  test("otherwise it is emulated with what the host can grant", () => {
    const got = privilegedSettings(RESTRICTED);
    assert.equal(got.Privileged, undefined);
    assert.deepEqual(got.CapAdd, grantableCapabilities(RESTRICTED));
    assert.ok(!got.CapAdd?.includes("CAP_SYS_RESOURCE"));
    assert.ok(!got.CapAdd?.includes("CAP_PERFMON"), "API 1.41 refuses CAP_PERFMON");
    assert.deepEqual(got.Devices, [
      { PathOnHost: "/dev/null", PathInContainer: "/dev/null", CgroupPermissions: "rwm" },
      { PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" },
    ]);
    assert.deepEqual(got.DeviceCgroupRules, ["a *:* rwm"]);
    assert.deepEqual(got.SecurityOpt, ["seccomp=unconfined", "label=disable"]);
  });
  test("the emulation unconfines AppArmor where it is enabled", () => {
    const got = privilegedSettings({ ...RESTRICTED, appArmorEnabled: true });
    assert.deepEqual(got.SecurityOpt, [
      "seccomp=unconfined",
      "apparmor=unconfined",
      "label=disable",
    ]);
  });
});

describe("clampOomScoreAdj", () => {
  const cases: Array<{ value: number; min: number; want: number }> = [
    { value: -998, min: -1000, want: -998 },
    { value: -998, min: 0, want: 0 },
    { value: -997, min: -500, want: -500 },
    { value: 1000, min: 0, want: 1000 },
    { value: 1500, min: 0, want: 1000 },
    { value: 500, min: 0, want: 500 },
  ];
  for (const { value, min, want } of cases) {
    test(`${value} with minimum ${min} → ${want}`, () =>
      assert.equal(clampOomScoreAdj(value, { minOomScoreAdj: min }), want));
  }
});

describe("profileFilesNeeded", () => {
  const cases: Array<{
    name: string;
    config: Parameters<typeof profileFilesNeeded>[0];
    want: string[];
  }> = [
    {
      name: "a container's structured Localhost profile",
      config: create(ContainerConfigSchema, {
        linux: {
          securityContext: {
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/a.json",
            },
          },
        },
      }),
      want: ["/a.json"],
    },
    {
      name: "a container's deprecated localhost path",
      config: create(ContainerConfigSchema, {
        linux: { securityContext: { seccompProfilePath: "localhost//b.json" } },
      }),
      want: ["/b.json"],
    },
    {
      name: "a sandbox's profile",
      config: create(PodSandboxConfigSchema, {
        linux: {
          securityContext: {
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/c.json",
            },
          },
        },
      }),
      want: ["/c.json"],
    },
    {
      name: "none for privileged (privileged ignores seccomp)",
      config: create(ContainerConfigSchema, {
        linux: {
          securityContext: {
            privileged: true,
            seccomp: {
              profileType: SecurityProfile_ProfileType.Localhost,
              localhostRef: "/a.json",
            },
          },
        },
      }),
      want: [],
    },
    {
      name: "none for RuntimeDefault",
      config: create(ContainerConfigSchema, { linux: { securityContext: { seccomp: {} } } }),
      want: [],
    },
    {
      name: "none for an invalid path (the build reports it)",
      config: create(ContainerConfigSchema, {
        linux: { securityContext: { seccompProfilePath: "localhost/rel.json" } },
      }),
      want: [],
    },
    { name: "none without linux", config: create(ContainerConfigSchema, {}), want: [] },
  ];
  for (const { name, config, want } of cases) {
    test(name, () => assert.deepEqual(profileFilesNeeded(config), want));
  }
});
