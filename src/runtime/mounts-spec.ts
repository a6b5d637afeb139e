import { apiAtLeast } from "../docker/api-version.ts";
import type { DeviceMapping, Mount } from "../docker/types.ts";
import { invalidArgument } from "../errors.ts";
import {
  type CDIDevice,
  type Mount as CriMount,
  type Device,
  MountPropagation,
} from "../gen/runtime/v1/api_pb.js";
import type { HostLimits } from "./host-limits.ts";

/**
 * Pure translation of CRI mounts and devices into Docker's Binds, Mounts, Devices and
 * DeviceRequests.
 *
 * Representation: a bind goes to `Binds` ("src:dst:opts") unless it must go to `Mounts`.
 * Binds are the only form that (a) creates a missing host path as a directory on every API
 * version (Mounts' CreateMountpoint needs API 1.42; containerd and dockershim both create
 * missing host paths, and the kubelet relies on it) and (b) carries SELinux relabeling (`Z`;
 * Mounts have no relabel option). A bind needs `Mounts` when:
 * - it is read-only and the API is >= 1.44: from there Docker makes read-only binds recursive
 *   "if possible" unless BindOptions says otherwise, and only Mounts have BindOptions; the
 *   kubelet's plain read-only must stay non-recursive (cri-dockerd issue #309) and
 *   recursive_read_only must be forced;
 * - a path contains ":", which the Binds syntax cannot carry.
 * A read-only bind that also needs relabeling stays in Binds on API >= 1.44 (relabeling is what
 * makes it readable at all under SELinux), and so becomes recursively read-only where the
 * kernel can: reported as a warning.
 */

/** One entry of HostConfig.DeviceRequests (API 1.40+); berth uses it for CDI only. */
export interface DeviceRequest {
  Driver: string;
  Count?: number;
  DeviceIDs?: string[];
  Capabilities?: string[][];
  Options?: Record<string, string>;
}

/** Files of the pod every container must see, when the lead manages its own copies. */
export interface PodFiles {
  resolvConf?: string;
  hosts?: string;
  hostname?: string;
}

export interface MountContext {
  limits: Pick<HostLimits, "apiVersion" | "recursiveReadOnly">;
  /**
   * The SELinux level the container runs with (its selinux_options, else the pod's). Docker
   * gives every container a random MCS label unless told one, so relabeling a volume without a
   * level would lock out the pod's other containers: like cri-dockerd, berth relabels only then.
   */
  selinuxLevel: string;
  /** The pod files are bound read-only into read-only-rootfs containers, as containerd does. */
  readonlyRootfs: boolean;
  podFiles?: PodFiles;
}

export interface MountSettings {
  Binds: string[];
  Mounts: Mount[];
  warnings: string[];
}

function propagationOf(mount: CriMount, field: string): string | undefined {
  switch (mount.propagation) {
    case MountPropagation.PROPAGATION_PRIVATE:
      // Docker's default: rprivate, or rslave when the source holds Docker's own root (so the
      // engine can still unmount its layers); berth keeps that choice.
      return undefined;
    case MountPropagation.PROPAGATION_HOST_TO_CONTAINER:
      return "rslave";
    case MountPropagation.PROPAGATION_BIDIRECTIONAL:
      return "rshared";
    default:
      throw invalidArgument(`${field}.propagation: unknown value ${mount.propagation}`);
  }
}

function cleanPath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

/** Binds, Mounts and warnings for a container's CRI mounts (plus the pod files, if given). */
export function buildMounts(mounts: CriMount[], ctx: MountContext): MountSettings {
  const result: MountSettings = { Binds: [], Mounts: [], warnings: [] };
  const api = ctx.limits.apiVersion;
  const targets = new Map<string, number>();
  mounts.forEach((mount, i) => {
    const field = `mounts[${i}]`;
    if (mount.uidMappings.length > 0 || mount.gidMappings.length > 0) {
      const which = mount.uidMappings.length > 0 ? "uidMappings" : "gidMappings";
      throw invalidArgument(`${field}.${which}: Docker Engine cannot make id-mapped mounts`);
    }
    if (!mount.containerPath.startsWith("/")) {
      throw invalidArgument(
        `${field}.container_path: "${mount.containerPath}" must be an absolute path`,
      );
    }
    const target = cleanPath(mount.containerPath);
    const earlier = targets.get(target);
    if (earlier !== undefined) {
      throw invalidArgument(
        `${field}.container_path: ${target} is already the target of mounts[${earlier}]`,
      );
    }
    targets.set(target, i);

    const image = mount.image?.image ?? "";
    if (image !== "") {
      result.Mounts.push(imageMount(mount, image, target, field, api));
      return;
    }
    if (mount.imageSubPath !== "") {
      throw invalidArgument(`${field}.image_sub_path: only valid together with image`);
    }
    bindMount(mount, target, field, ctx, result);
  });
  addPodFiles(ctx, targets, result);
  return result;
}

function imageMount(
  mount: CriMount,
  image: string,
  target: string,
  field: string,
  api: string,
): Mount {
  if (mount.hostPath !== "") {
    throw invalidArgument(`${field}.host_path: must be empty when image is set`);
  }
  if (!apiAtLeast(api, "1.48")) {
    throw invalidArgument(
      `${field}.image: image volumes need Docker Engine API 1.48 (Docker 28) or newer; this engine speaks ${api}`,
    );
  }
  // Image volumes are read-only by definition (KEP 4639).
  return {
    Type: "image",
    Source: image,
    Target: target,
    ReadOnly: true,
    ...(mount.imageSubPath !== "" ? { ImageOptions: { Subpath: mount.imageSubPath } } : {}),
  };
}

function bindMount(
  mount: CriMount,
  target: string,
  field: string,
  ctx: MountContext,
  result: MountSettings,
): void {
  const api = ctx.limits.apiVersion;
  if (mount.hostPath === "") throw invalidArgument(`${field}.host_path: required`);
  if (!mount.hostPath.startsWith("/")) {
    throw invalidArgument(`${field}.host_path: "${mount.hostPath}" must be an absolute path`);
  }
  const propagation = propagationOf(mount, field);
  if (mount.recursiveReadOnly) {
    // The CRI's rules for recursive_read_only; critest checks each is refused at create.
    if (!mount.readonly) {
      throw invalidArgument(`${field}.recursive_read_only: needs readonly`);
    }
    if (mount.propagation !== MountPropagation.PROPAGATION_PRIVATE) {
      throw invalidArgument(`${field}.recursive_read_only: needs propagation PROPAGATION_PRIVATE`);
    }
    if (!ctx.limits.recursiveReadOnly) {
      throw invalidArgument(
        `${field}.recursive_read_only: this engine and kernel cannot make mounts recursively read-only (needs Docker Engine API 1.44 and Linux 5.12)`,
      );
    }
  }
  const relabel = mount.selinuxRelabel && ctx.selinuxLevel !== "";
  const colon = mount.hostPath.includes(":") || target.includes(":");
  const bindOptionsNeeded = apiAtLeast(api, "1.44") && mount.readonly;
  if (colon && relabel) {
    throw invalidArgument(
      `${field}.host_path: a path with ":" needs Docker's Mounts form, which cannot relabel for SELinux (selinux_relabel)`,
    );
  }
  if (colon || (bindOptionsNeeded && !relabel)) {
    const options: NonNullable<Mount["BindOptions"]> = {};
    if (propagation) options.Propagation = propagation;
    if (apiAtLeast(api, "1.42")) options.CreateMountpoint = true;
    if (bindOptionsNeeded) {
      if (mount.recursiveReadOnly) options.ReadOnlyForceRecursive = true;
      else options.ReadOnlyNonRecursive = true;
    }
    result.Mounts.push({
      Type: "bind",
      Source: mount.hostPath,
      Target: target,
      ...(mount.readonly ? { ReadOnly: true } : {}),
      ...(Object.keys(options).length > 0 ? { BindOptions: options } : {}),
    });
    return;
  }
  if (bindOptionsNeeded && !mount.recursiveReadOnly) {
    result.warnings.push(
      `${field}: read-only and relabeled for SELinux, so bound with Docker's Binds, which from API 1.44 makes it recursively read-only where the kernel can`,
    );
  }
  const options: string[] = [];
  if (mount.readonly) options.push("ro");
  if (relabel) options.push("Z");
  if (propagation) options.push(propagation);
  result.Binds.push(bindString(mount.hostPath, target, options));
}

function bindString(source: string, target: string, options: string[]): string {
  return options.length > 0 ? `${source}:${target}:${options.join(",")}` : `${source}:${target}`;
}

/**
 * The pod's resolv.conf, hosts and hostname files, bound like containerd does (read-only when
 * the rootfs is), unless the config already mounts that path (the kubelet brings its own
 * /etc/hosts). Relabeled shared ("z") because every container of the pod reads them; Docker
 * skips relabeling where SELinux is off.
 */
function addPodFiles(ctx: MountContext, targets: Map<string, number>, result: MountSettings) {
  const files: Array<[string | undefined, string]> = [
    [ctx.podFiles?.resolvConf, "/etc/resolv.conf"],
    [ctx.podFiles?.hosts, "/etc/hosts"],
    [ctx.podFiles?.hostname, "/etc/hostname"],
  ];
  for (const [source, target] of files) {
    if (!source || targets.has(target)) continue;
    if (source.includes(":")) {
      result.Mounts.push({
        Type: "bind",
        Source: source,
        Target: target,
        ...(ctx.readonlyRootfs ? { ReadOnly: true } : {}),
      });
      continue;
    }
    result.Binds.push(bindString(source, target, [...(ctx.readonlyRootfs ? ["ro"] : []), "z"]));
  }
}

const PERMISSIONS = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/** Docker Devices for CRI devices; permissions default to rwm, as in dockershim. */
export function buildDevices(devices: Device[]): DeviceMapping[] {
  return devices.map((device, i) => {
    const field = `devices[${i}]`;
    if (!device.hostPath.startsWith("/")) {
      throw invalidArgument(`${field}.host_path: "${device.hostPath}" must be an absolute path`);
    }
    const inContainer = device.containerPath === "" ? device.hostPath : device.containerPath;
    if (!inContainer.startsWith("/")) {
      throw invalidArgument(
        `${field}.container_path: "${device.containerPath}" must be an absolute path`,
      );
    }
    const permissions = device.permissions === "" ? "rwm" : device.permissions;
    if (!PERMISSIONS.test(permissions)) {
      throw invalidArgument(
        `${field}.permissions: "${device.permissions}" must be made of r, w and m`,
      );
    }
    return {
      PathOnHost: device.hostPath,
      PathInContainer: inContainer,
      CgroupPermissions: permissions,
    };
  });
}

const CDI_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*=[A-Za-z0-9_.:-]+$/;

/**
 * CDI devices as Docker DeviceRequests with the "cdi" driver, as cri-dockerd sends them. The
 * engine resolves CDI names from API 1.44 (Docker 25), and only with its CDI feature enabled
 * (experimental in 25, `features.cdi` in 26-27, on by default from 28); older engines know no
 * "cdi" driver and would fail at start, so berth refuses at create.
 */
export function cdiDeviceRequests(
  devices: CDIDevice[],
  limits: Pick<HostLimits, "apiVersion">,
): DeviceRequest[] | undefined {
  if (devices.length === 0) return undefined;
  if (!apiAtLeast(limits.apiVersion, "1.44")) {
    throw invalidArgument(
      `CDI_devices[0].name: CDI devices need Docker Engine API 1.44 (Docker 25) or newer with CDI enabled; this engine speaks ${limits.apiVersion}`,
    );
  }
  const names = devices.map((device, i) => {
    if (!CDI_NAME.test(device.name)) {
      throw invalidArgument(
        `CDI_devices[${i}].name: "${device.name}" is not a fully qualified CDI name (vendor.com/class=device)`,
      );
    }
    return device.name;
  });
  return [{ Driver: "cdi", DeviceIDs: names }];
}
