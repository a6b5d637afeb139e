import { apiAtLeast } from "../docker/api-version.ts";
import type { DeviceMapping } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import {
  type Capability,
  type ContainerConfig,
  type Int64Value,
  type PodSandboxConfig,
  type SELinuxOption,
  type SecurityProfile,
  SecurityProfile_ProfileType,
  SupplementalGroupsPolicy,
} from "../gen/runtime/v1/api_pb.js";
import { CAPABILITY_NAMES } from "./capabilities.ts";
import type { HostLimits } from "./host-limits.ts";

/**
 * Pure translation of CRI security contexts into Docker create settings: users, groups,
 * capabilities, seccomp, AppArmor, SELinux and privileged mode. Every INVALID_ARGUMENT names
 * the CRI field (relative to the config being translated) so the kubelet's events say what
 * to change.
 */

/** dockershim's (and cri-dockerd's) pause oom_score_adj: killed after the apps, before the node's daemons. */
export const SANDBOX_OOM_SCORE_ADJ = -998;

/**
 * The oom_score_adj berth can actually give: lowering it needs CAP_SYS_RESOURCE, which some
 * hosts (this CI machine) lack, so the kubelet's negative values are raised to the lowest the
 * host allows instead of failing every Guaranteed pod at start. The lead logs this once at
 * startup (host-limits.ts) rather than per container.
 */
export function clampOomScoreAdj(
  value: number,
  limits: Pick<HostLimits, "minOomScoreAdj">,
): number {
  return Math.min(1000, Math.max(value, limits.minOomScoreAdj));
}

export type ProfileKind = "RuntimeDefault" | "Unconfined" | "Localhost";

/** A seccomp or AppArmor profile after the structured and deprecated fields are reconciled. */
export interface ResolvedProfile {
  kind: ProfileKind;
  /** Localhost only: the profile file (seccomp) or the loaded profile's name (AppArmor). */
  ref: string;
  /** The CRI field it came from, for error messages. */
  field: string;
}

function structuredProfile(profile: SecurityProfile, field: string): ResolvedProfile {
  switch (profile.profileType) {
    case SecurityProfile_ProfileType.RuntimeDefault:
      return { kind: "RuntimeDefault", ref: "", field };
    case SecurityProfile_ProfileType.Unconfined:
      return { kind: "Unconfined", ref: "", field };
    case SecurityProfile_ProfileType.Localhost:
      if (profile.localhostRef === "") {
        throw invalidArgument(`${field}.localhost_ref: required when profile_type is Localhost`);
      }
      return { kind: "Localhost", ref: profile.localhostRef, field: `${field}.localhost_ref` };
    default:
      throw invalidArgument(`${field}.profile_type: unknown value ${profile.profileType}`);
  }
}

/**
 * The effective seccomp profile. The structured `seccomp` field wins; without it the
 * deprecated `seccomp_profile_path` decides, and its empty default means Unconfined
 * (api.proto: `Default: "", which is identical with unconfined`; critest "should support nil
 * profile, which is unconfined" checks Seccomp: 0). A present but zero-valued `seccomp`
 * message is RuntimeDefault (critest "should support seccomp default" expects Seccomp: 2).
 */
export function seccompProfileOf(
  sc: { seccomp?: SecurityProfile | undefined; seccompProfilePath: string } | undefined,
  prefix: string,
): ResolvedProfile {
  if (sc?.seccomp) return checkSeccompRef(structuredProfile(sc.seccomp, `${prefix}.seccomp`));
  const field = `${prefix}.seccomp_profile_path`;
  const path = sc?.seccompProfilePath ?? "";
  if (path === "" || path === "unconfined") return { kind: "Unconfined", ref: "", field };
  if (path === "runtime/default" || path === "docker/default") {
    return { kind: "RuntimeDefault", ref: "", field };
  }
  if (path.startsWith("localhost/")) {
    return checkSeccompRef({ kind: "Localhost", ref: path.slice("localhost/".length), field });
  }
  throw invalidArgument(
    `${field}: "${path}" is none of runtime/default, docker/default, unconfined, localhost/<path>`,
  );
}

function checkSeccompRef(profile: ResolvedProfile): ResolvedProfile {
  if (profile.kind === "Localhost" && !profile.ref.startsWith("/")) {
    throw invalidArgument(
      `${profile.field}: seccomp profile "${profile.ref}" must be an absolute path`,
    );
  }
  return profile;
}

/**
 * The effective AppArmor profile. Unlike seccomp, an unset profile means the runtime's
 * default (api.proto: `runtime/default: equivalent to not specifying a profile`).
 */
export function appArmorProfileOf(
  sc: { apparmor?: SecurityProfile | undefined; apparmorProfile?: string } | undefined,
  prefix: string,
): ResolvedProfile {
  if (sc?.apparmor) return structuredProfile(sc.apparmor, `${prefix}.apparmor`);
  const field = `${prefix}.apparmor_profile`;
  const name = sc?.apparmorProfile ?? "";
  if (name === "" || name === "runtime/default") return { kind: "RuntimeDefault", ref: "", field };
  if (name === "unconfined") return { kind: "Unconfined", ref: "", field };
  if (name.startsWith("localhost/") && name.length > "localhost/".length) {
    return { kind: "Localhost", ref: name.slice("localhost/".length), field };
  }
  throw invalidArgument(
    `${field}: "${name}" is none of runtime/default, unconfined, localhost/<profile>`,
  );
}

/**
 * Docker security options for a seccomp profile. RuntimeDefault is Docker's own default
 * profile, applied when nothing is said. Localhost profiles travel inline
 * (`seccomp=<json>`, as the docker CLI sends them): the engine cannot read berth's files.
 */
export function seccompSecurityOpts(
  profile: ResolvedProfile,
  limits: Pick<HostLimits, "seccompEnabled">,
  localhostProfiles: ReadonlyMap<string, string>,
): string[] {
  if (!limits.seccompEnabled) {
    // Without kernel/engine seccomp Docker's default is already "no filter"; only an explicit
    // profile cannot be honoured, and silently running unfiltered would be a lie.
    if (profile.kind === "Localhost") {
      throw invalidArgument(
        `${profile.field}: seccomp profile ${profile.ref} requested, but the engine runs without seccomp support`,
      );
    }
    return [];
  }
  switch (profile.kind) {
    case "RuntimeDefault":
      return [];
    case "Unconfined":
      return ["seccomp=unconfined"];
    case "Localhost": {
      const text = localhostProfiles.get(profile.ref);
      if (text === undefined) {
        throw invalidArgument(
          `${profile.field}: seccomp profile file ${profile.ref} does not exist or cannot be read`,
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw invalidArgument(
          `${profile.field}: seccomp profile file ${profile.ref} is not valid JSON: ${(err as Error).message}`,
        );
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw invalidArgument(
          `${profile.field}: seccomp profile file ${profile.ref} must hold a JSON object`,
        );
      }
      return [`seccomp=${JSON.stringify(parsed)}`];
    }
  }
}

/**
 * Docker security options for an AppArmor profile. A Localhost profile must be loaded
 * already: Docker would only fail at start, and the kubelet expects CreateContainer to fail.
 */
export function appArmorSecurityOpts(
  profile: ResolvedProfile,
  limits: Pick<HostLimits, "appArmorEnabled" | "loadedAppArmorProfiles">,
): string[] {
  if (!limits.appArmorEnabled) {
    // Docker ignores AppArmor options on hosts without it; only an explicit profile is an error
    // (containerd answers the same: "apparmor is not supported").
    if (profile.kind === "Localhost") {
      throw invalidArgument(
        `${profile.field}: AppArmor profile "${profile.ref}" requested, but AppArmor is not enabled on this host`,
      );
    }
    return [];
  }
  switch (profile.kind) {
    case "RuntimeDefault":
      // Docker applies its docker-default profile itself.
      return [];
    case "Unconfined":
      return ["apparmor=unconfined"];
    case "Localhost":
      if (!limits.loadedAppArmorProfiles.has(profile.ref)) {
        throw invalidArgument(
          `${profile.field}: AppArmor profile "${profile.ref}" is not loaded on this host`,
        );
      }
      return [`apparmor=${profile.ref}`];
  }
}

/** SELinux labels as Docker's `label=` options (the `=` form Docker has accepted since API 1.23). */
/** The seccomp, AppArmor and SELinux options of an unprivileged sandbox or container. */
export function confinementSecurityOpts(
  sc:
    | (Parameters<typeof seccompProfileOf>[0] &
        Parameters<typeof appArmorProfileOf>[0] & { selinuxOptions?: SELinuxOption | undefined })
    | undefined,
  prefix: string,
  limits: Pick<HostLimits, "seccompEnabled" | "appArmorEnabled" | "loadedAppArmorProfiles">,
  localhostProfiles: ReadonlyMap<string, string>,
): string[] {
  return [
    ...seccompSecurityOpts(seccompProfileOf(sc, prefix), limits, localhostProfiles),
    ...appArmorSecurityOpts(appArmorProfileOf(sc, prefix), limits),
    ...selinuxSecurityOpts(sc?.selinuxOptions),
  ];
}

export function selinuxSecurityOpts(options: SELinuxOption | undefined): string[] {
  if (!options) return [];
  const parts: Array<[string, string]> = [
    ["user", options.user],
    ["role", options.role],
    ["type", options.type],
    ["level", options.level],
  ];
  return parts.filter(([, value]) => value !== "").map(([key, value]) => `label=${key}:${value}`);
}

function idOf(value: bigint, field: string): string {
  if (value < 0n || value > 0xffffffffn) {
    throw invalidArgument(`${field}: ${value} is not a valid id`);
  }
  return value.toString();
}

/**
 * Docker's `User` ("user[:group]") for a security context; undefined keeps the image's user.
 * The CRI says a runtime MUST error on run_as_group without a user (critest "runtime should
 * return error if RunAsGroup is set without RunAsUser").
 */
export function userOf(
  sc:
    | {
        runAsUser?: Int64Value | undefined;
        runAsGroup?: Int64Value | undefined;
        runAsUsername?: string;
      }
    | undefined,
  prefix: string,
): string | undefined {
  if (!sc) return undefined;
  const username = sc.runAsUsername ?? "";
  if (username !== "" && sc.runAsUser) {
    throw invalidArgument(
      `${prefix}.run_as_username: only one of run_as_user and run_as_username may be set`,
    );
  }
  if (username.includes(":")) {
    throw invalidArgument(`${prefix}.run_as_username: "${username}" must not contain ":"`);
  }
  const user = username || (sc.runAsUser ? idOf(sc.runAsUser.value, `${prefix}.run_as_user`) : "");
  if (sc.runAsGroup) {
    if (user === "") {
      throw invalidArgument(`${prefix}.run_as_group: needs run_as_user or run_as_username`);
    }
    return `${user}:${idOf(sc.runAsGroup.value, `${prefix}.run_as_group`)}`;
  }
  return user === "" ? undefined : user;
}

/**
 * Docker's GroupAdd, for both policies: the engine adds the image's /etc/group memberships
 * of the user (Merge) unless `User` names a group, which container-create.ts makes it do for
 * Strict (container-identity.ts has what the engine does).
 */
export function groupAddOf(
  sc:
    | { supplementalGroups: bigint[]; supplementalGroupsPolicy: SupplementalGroupsPolicy }
    | undefined,
  prefix: string,
): string[] | undefined {
  if (!sc) return undefined;
  if (
    sc.supplementalGroupsPolicy !== SupplementalGroupsPolicy.Merge &&
    sc.supplementalGroupsPolicy !== SupplementalGroupsPolicy.Strict
  ) {
    throw invalidArgument(
      `${prefix}.supplemental_groups_policy: unknown value ${sc.supplementalGroupsPolicy}`,
    );
  }
  const groups = sc.supplementalGroups.map((group, i) =>
    idOf(group, `${prefix}.supplemental_groups[${i}]`),
  );
  return groups.length > 0 ? groups : undefined;
}

/**
 * Capabilities Docker 20.10 (API 1.41) refuses as "unknown capability": its vendored
 * capability list predates them; Docker 23 (API 1.42) knows them.
 */
const NEEDS_API_1_42 = new Set(["CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]);

function engineKnows(capability: string, apiVersion: string): boolean {
  return !NEEDS_API_1_42.has(capability) || apiAtLeast(apiVersion, "1.42");
}

/** What "all capabilities" can mean here: the host's bounding set, as far as the engine knows. */
export function grantableCapabilities(
  limits: Pick<HostLimits, "apiVersion" | "fullCapabilities" | "capabilityBoundingSet">,
): string[] {
  const all = limits.fullCapabilities ? [...CAPABILITY_NAMES] : limits.capabilityBoundingSet;
  return all.filter((name) => engineKnows(name, limits.apiVersion));
}

/**
 * CRI capability names lack the `CAP_` prefix (critest sends "NET_ADMIN"); crictl users
 * sometimes write it. berth always sends Docker the prefixed upper-case form.
 */
function normalizeCapability(name: string, field: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!(CAPABILITY_NAMES as readonly string[]).includes(full)) {
    throw invalidArgument(`${field}: unknown capability "${name}"`);
  }
  return full;
}

/**
 * CapAdd/CapDrop with containerd's order of application: add ALL, then drop ALL, then the
 * individual adds, then the individual drops (so a capability both added and dropped is
 * dropped, and drop ALL + add X leaves exactly X). Docker's own "ALL" would ask for
 * capabilities the host may not grant (runc then fails "unable to apply caps" at start), so
 * without a full bounding set "ALL" becomes the grantable list.
 */
export function capabilitySettings(
  caps: Capability | undefined,
  limits: Pick<HostLimits, "apiVersion" | "fullCapabilities" | "capabilityBoundingSet">,
  prefix: string,
): { CapAdd?: string[]; CapDrop?: string[] } {
  if (!caps) return {};
  const field = `${prefix}.capabilities`;
  if (caps.addAmbientCapabilities.length > 0) {
    throw invalidArgument(
      `${field}.add_ambient_capabilities: Docker Engine cannot grant ambient capabilities`,
    );
  }
  const adds = caps.addCapabilities.map((name, i) =>
    normalizeCapability(name, `${field}.add_capabilities[${i}]`),
  );
  const drops = caps.dropCapabilities.map((name, i) =>
    normalizeCapability(name, `${field}.drop_capabilities[${i}]`),
  );
  adds.forEach((name, i) => {
    if (name === "ALL") return;
    if (!engineKnows(name, limits.apiVersion)) {
      throw invalidArgument(
        `${field}.add_capabilities[${i}]: Docker Engine API ${limits.apiVersion} does not know ${name} (it needs API 1.42, Docker 23)`,
      );
    }
    if (!limits.fullCapabilities && !limits.capabilityBoundingSet.includes(name)) {
      throw invalidArgument(
        `${field}.add_capabilities[${i}]: ${name} is not in this host's capability bounding set`,
      );
    }
  });
  const individualDrops = drops.filter((name) => name !== "ALL");
  const individualAdds = adds.filter((name) => name !== "ALL" && !individualDrops.includes(name));
  // A capability the engine does not know is never granted, so dropping it is a no-op; sending
  // it would only make an old engine refuse the container.
  const engineDrops = individualDrops.filter((name) => engineKnows(name, limits.apiVersion));
  let capAdd: string[];
  let capDrop: string[];
  if (drops.includes("ALL")) {
    capAdd = individualAdds;
    capDrop = ["ALL"];
  } else if (adds.includes("ALL")) {
    capAdd = limits.fullCapabilities
      ? ["ALL"]
      : grantableCapabilities(limits).filter((name) => !individualDrops.includes(name));
    capDrop = engineDrops;
  } else {
    capAdd = individualAdds;
    capDrop = engineDrops;
  }
  return {
    ...(capAdd.length > 0 ? { CapAdd: unique(capAdd) } : {}),
    ...(capDrop.length > 0 ? { CapDrop: unique(capDrop) } : {}),
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** What privileged mode becomes in a create body. */
export interface PrivilegedSettings {
  Privileged?: boolean;
  CapAdd?: string[];
  /** Host devices to add beside the config's own (emulation only). */
  Devices: DeviceMapping[];
  DeviceCgroupRules?: string[];
  SecurityOpt: string[];
}

/**
 * Privileged mode. With a full capability bounding set Docker's own Privileged works. Without
 * one (this host lacks CAP_SYS_RESOURCE) Docker's Privileged asks runc for every capability and
 * the container never starts, so berth grants, as containerd does on such hosts, what the CRI
 * lists for privileged (api.proto, LinuxContainerSecurityContext.privileged): every capability
 * the host has, every host device with a device-cgroup rule allowing all, no seccomp, no
 * AppArmor, no SELinux label, nothing masked or read-only in /proc. What the emulation cannot
 * give: Docker mounts /sys and /sys/fs/cgroup read-only for non-privileged containers, devices
 * plugged in after creation do not appear, and the missing capabilities stay missing.
 */
export function privilegedSettings(
  limits: Pick<
    HostLimits,
    | "apiVersion"
    | "fullCapabilities"
    | "capabilityBoundingSet"
    | "hostDevices"
    | "seccompEnabled"
    | "appArmorEnabled"
  >,
): PrivilegedSettings {
  if (limits.fullCapabilities) {
    // Docker's privileged mode already drops seccomp, AppArmor, masking and the device cgroup;
    // label=disable is what it does too, said explicitly so the body reads the same either way.
    return { Privileged: true, Devices: [], SecurityOpt: ["label=disable"] };
  }
  const securityOpt: string[] = [];
  if (limits.seccompEnabled) securityOpt.push("seccomp=unconfined");
  if (limits.appArmorEnabled) securityOpt.push("apparmor=unconfined");
  securityOpt.push("label=disable");
  return {
    CapAdd: grantableCapabilities(limits),
    Devices: limits.hostDevices.map((device) => ({
      PathOnHost: device.path,
      PathInContainer: device.path,
      CgroupPermissions: "rwm",
    })),
    DeviceCgroupRules: ["a *:* rwm"],
    SecurityOpt: securityOpt,
  };
}

/**
 * The seccomp profile files a config needs read from disk before it can be translated (the
 * translation itself does no I/O). A privileged config needs none: privileged ignores seccomp.
 * Invalid fields yield nothing here; the build functions report them.
 */
export function profileFilesNeeded(config: ContainerConfig | PodSandboxConfig): string[] {
  const sc = config.linux?.securityContext;
  if (!sc || sc.privileged) return [];
  try {
    const profile = seccompProfileOf(sc, "linux.security_context");
    return profile.kind === "Localhost" ? [profile.ref] : [];
  } catch {
    return [];
  }
}
