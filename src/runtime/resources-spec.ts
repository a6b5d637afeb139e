import { invalidArgument } from "../errors.ts";
import type { LinuxContainerResources } from "../gen/runtime/v1/api_pb.js";
import type { HostLimits } from "./host-limits.ts";
import { clampOomScoreAdj } from "./security-spec.ts";

/**
 * Pure translation of CRI cgroup settings into Docker's: resource limits for create and
 * update, and the cgroup parent in the form the engine's cgroup driver wants.
 */

/** The body of POST /containers/{id}/update that berth sends (API 1.41 field names). */
export interface ContainerUpdateBody {
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Memory?: number;
  MemorySwap?: number;
  PidsLimit?: number;
}

/** Resource fields of a create body's HostConfig. */
export interface ResourceSettings extends ContainerUpdateBody {
  OomScoreAdj?: number;
}

type ResourceLimits = Pick<HostLimits, "cgroupVersion" | "minOomScoreAdj">;

function int(value: bigint, field: string, min: bigint): number {
  if (value < min || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidArgument(`${field}: ${value} is out of range`);
  }
  return Number(value);
}

const DIGITS = /^\d+$/;

/**
 * Docker settings for CRI LinuxContainerResources. Zero means "not specified" in the CRI and is
 * left out, except for swap (below). What Docker cannot set comes back as warnings, not errors,
 * where the kubelet sends it for every container:
 * - hugepage_limits: the kubelet lists every page size (limit 0 unless requested); Docker has
 *   no hugetlb field (cri-dockerd drops them too). The kubelet's pod cgroup, the parent, still
 *   enforces the pod's hugepage limits, so only non-zero limits are worth a warning.
 * - unified["memory.oom.group"]: set by kubelets >= 1.32 on cgroup v2; Docker has no setting.
 */
export function resourceSettings(
  resources: LinuxContainerResources | undefined,
  limits: ResourceLimits,
  prefix = "linux.resources",
): { settings: ResourceSettings; warnings: string[] } {
  const settings: ResourceSettings = {};
  const warnings: string[] = [];
  if (!resources) return { settings, warnings };
  if (resources.cpuShares !== 0n) {
    settings.CpuShares = int(resources.cpuShares, `${prefix}.cpu_shares`, 0n);
  }
  if (resources.cpuPeriod !== 0n) {
    settings.CpuPeriod = int(resources.cpuPeriod, `${prefix}.cpu_period`, 0n);
  }
  if (resources.cpuQuota !== 0n) {
    // -1 is the kernel's "no quota".
    settings.CpuQuota = int(resources.cpuQuota, `${prefix}.cpu_quota`, -1n);
  }
  if (resources.cpusetCpus !== "") settings.CpusetCpus = resources.cpusetCpus;
  if (resources.cpusetMems !== "") settings.CpusetMems = resources.cpusetMems;
  const memory = int(resources.memoryLimitInBytes, `${prefix}.memory_limit_in_bytes`, 0n);
  if (memory > 0) settings.Memory = memory;
  if (resources.oomScoreAdj !== 0n) {
    const requested = int(resources.oomScoreAdj, `${prefix}.oom_score_adj`, -1000n);
    if (requested > 1000) {
      throw invalidArgument(`${prefix}.oom_score_adj: ${requested} is out of range [-1000, 1000]`);
    }
    const value = clampOomScoreAdj(requested, limits);
    if (value !== 0) settings.OomScoreAdj = value;
  }

  const unified = Object.entries(resources.unified);
  if (unified.length > 0 && limits.cgroupVersion !== 2) {
    throw invalidArgument(`${prefix}.unified: cgroup v2 settings on a cgroup v1 host`);
  }
  let swapMax: string | undefined;
  for (const [key, value] of unified) {
    const field = `${prefix}.unified["${key}"]`;
    switch (key) {
      case "memory.swap.max":
        if (value !== "max" && !DIGITS.test(value)) {
          throw invalidArgument(`${field}: "${value}" is neither "max" nor a byte count`);
        }
        swapMax = value;
        break;
      case "pids.max":
        if (value !== "max" && !DIGITS.test(value)) {
          throw invalidArgument(`${field}: "${value}" is neither "max" nor a number`);
        }
        settings.PidsLimit = value === "max" ? -1 : Number(value);
        break;
      case "memory.oom.group":
        warnings.push(
          `${field}: not applied: Docker Engine cannot set memory.oom.group; an OOM kill ends only the process the kernel picks`,
        );
        break;
      default:
        throw invalidArgument(`${field}: Docker Engine has no setting for it`);
    }
  }

  const swap = memorySwap(memory, resources.memorySwapLimitInBytes, swapMax, prefix);
  if (swap.value !== undefined) settings.MemorySwap = swap.value;
  if (swap.warning) warnings.push(swap.warning);

  resources.hugepageLimits.forEach((limit, i) => {
    if (limit.limit > 0n) {
      warnings.push(
        `${prefix}.hugepage_limits[${i}]: ${limit.pageSize} limit not applied to the container: Docker Engine has no hugetlb setting (the pod cgroup still limits the pod)`,
      );
    }
  });
  return { settings, warnings };
}

/**
 * Docker's MemorySwap is memory plus swap, like cgroup v1's memsw and the CRI's
 * memory_swap_limit_in_bytes. Docker's own default for a memory limit without MemorySwap is
 * twice the memory; Kubernetes wants no swap unless it says otherwise (cri-dockerd always sets
 * MemorySwap = Memory), so 0 ("not specified") means memory + 0 swap and -1 means unlimited.
 * On cgroup v2 the kubelet speaks through unified["memory.swap.max"] (swap alone), which wins.
 */
function memorySwap(
  memory: number,
  swapLimit: bigint,
  swapMax: string | undefined,
  prefix: string,
): { value?: number; warning?: string } {
  if (swapMax !== undefined) {
    const field = `${prefix}.unified["memory.swap.max"]`;
    if (swapMax === "max") return memory > 0 ? { value: -1 } : {};
    if (memory === 0) {
      // Docker refuses MemorySwap without Memory ("You should always set the Memory limit when
      // using Memoryswap limit"), so a container without a memory limit keeps the swap it gets.
      return {
        warning: `${field}: not applied: Docker Engine limits swap only together with a memory limit`,
      };
    }
    return { value: memory + int(BigInt(swapMax), field, 0n) };
  }
  const field = `${prefix}.memory_swap_limit_in_bytes`;
  if (swapLimit === 0n) return memory > 0 ? { value: memory } : {};
  if (swapLimit === -1n) return memory > 0 ? { value: -1 } : {};
  const total = int(swapLimit, field, 1n);
  if (memory === 0) {
    throw invalidArgument(
      `${field}: needs memory_limit_in_bytes (Docker Engine limits swap only together with memory)`,
    );
  }
  if (total < memory) {
    throw invalidArgument(
      `${field}: ${total} is below memory_limit_in_bytes ${memory}; it counts memory plus swap`,
    );
  }
  return { value: total };
}

/**
 * The body for POST /containers/{id}/update (UpdateContainerResources). Memory and MemorySwap
 * always travel together: Docker refuses a new Memory above the old MemorySwap otherwise.
 * Docker reads 0 as "unchanged", so a limit cannot be lifted back to unlimited this way, and
 * oom_score_adj cannot be updated at all (it follows the pod's QoS class, which never changes).
 */
export function buildUpdateResources(
  resources: LinuxContainerResources | undefined,
  limits: ResourceLimits,
): { body: ContainerUpdateBody; warnings: string[] } {
  const { settings, warnings } = resourceSettings(resources, limits);
  const { OomScoreAdj: _ignored, ...body } = settings;
  return { body, warnings };
}

/**
 * The cgroup parent in the syntax the engine's driver wants. The kubelet sends cgroupfs paths
 * ("/kubepods/burstable/pod<uid>") unless it runs the systemd driver itself, in which case it
 * sends the slice hierarchy ("/kubepods.slice/kubepods-burstable.slice/...slice"). Docker's
 * systemd driver wants one slice name and expands the hierarchy from its dashes, so berth
 * passes the last slice as cri-dockerd does, or converts a cgroupfs path the way the kubelet
 * names slices (components joined by "-", their own "-" escaped as "_").
 */
export function cgroupParentFor(
  cgroupParent: string,
  driver: HostLimits["cgroupDriver"],
): string | undefined {
  if (cgroupParent === "") return undefined;
  if (driver === "cgroupfs") return cgroupParent;
  const parts = cgroupParent.split("/").filter((part) => part !== "");
  const last = parts.at(-1);
  if (last === undefined) return undefined;
  if (last.endsWith(".slice")) return last;
  return `${parts.map((part) => part.replaceAll("-", "_")).join("-")}.slice`;
}
