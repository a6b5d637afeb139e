import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { capabilitiesInMask, isFullMask } from "./capabilities.ts";
import type { EngineFacts } from "./engine-facts.ts";
import { supportsRecursiveReadOnly } from "./runtime-handlers.ts";

/**
 * What this host and engine allow, detected once at start. Real nodes grant everything;
 * restricted hosts (like CI sandboxes without CAP_SYS_RESOURCE) cannot lower oom_score_adj
 * and cannot start Docker's --privileged containers, and berth adapts as containerd does.
 */
export interface HostLimits {
  apiVersion: string;
  recursiveReadOnly: boolean;
  capabilityBoundingSet: string[];
  fullCapabilities: boolean;
  minOomScoreAdj: number;
  cgroupDriver: "cgroupfs" | "systemd";
  cgroupVersion: 1 | 2;
  hostDevices: Array<{ path: string }>;
  appArmorEnabled: boolean;
  loadedAppArmorProfiles: Set<string>;
  seccompEnabled: boolean;
}

export async function detectHostLimits(facts: EngineFacts, log: Logger): Promise<HostLimits> {
  const status = await readFile("/proc/self/status", "utf8");
  const capBnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0";
  const lastCap = Number((await readFile("/proc/sys/kernel/cap_last_cap", "utf8")).trim());
  const fullCapabilities = isFullMask(capBnd, lastCap);
  const capabilityBoundingSet = capabilitiesInMask(capBnd, lastCap);
  const minOomScoreAdj = await lowestOomScoreAdj();
  const appArmorEnabled =
    (await readFile("/sys/module/apparmor/parameters/enabled", "utf8").catch(() => "N")).trim() ===
    "Y";
  const limits: HostLimits = {
    apiVersion: facts.apiVersion,
    recursiveReadOnly: supportsRecursiveReadOnly(facts.apiVersion, facts.info.KernelVersion),
    capabilityBoundingSet,
    fullCapabilities,
    minOomScoreAdj,
    cgroupDriver: facts.info.CgroupDriver === "systemd" ? "systemd" : "cgroupfs",
    cgroupVersion: facts.info.CgroupVersion === "2" ? 2 : 1,
    hostDevices: await listDevices("/dev"),
    appArmorEnabled,
    loadedAppArmorProfiles: appArmorEnabled ? await appArmorProfiles() : new Set(),
    seccompEnabled: (facts.info.SecurityOptions ?? []).some((option) =>
      option.includes("name=seccomp"),
    ),
  };
  if (!fullCapabilities) {
    const all = capabilitiesInMask("f".repeat(16), lastCap);
    const missing = all.filter((name) => !capabilityBoundingSet.includes(name));
    log.warn(
      { missing },
      "host capability bounding set is not full: privileged containers get the capabilities the host has instead of Docker's --privileged",
    );
  }
  if (minOomScoreAdj > -1000) {
    log.warn(
      { minOomScoreAdj },
      "this host may not lower oom_score_adj: sandbox and container values are clamped",
    );
  }
  return limits;
}

/**
 * Lowering oom_score_adj needs CAP_SYS_RESOURCE. berth tries on itself (raising back
 * afterwards is always allowed) rather than trusting the capability sets, which user
 * namespaces and LSMs can make lie.
 */
async function lowestOomScoreAdj(): Promise<number> {
  const path = "/proc/self/oom_score_adj";
  const current = Number((await readFile(path, "utf8")).trim());
  if (current <= -1000) return -1000;
  try {
    await writeFile(path, String(current - 1));
    await writeFile(path, String(current));
    return -1000;
  } catch {
    return current;
  }
}

async function listDevices(dir: string): Promise<Array<{ path: string }>> {
  const devices: Array<{ path: string }> = [];
  const walk = async (path: string, depth: number) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(path, entry.name);
      if (entry.isCharacterDevice() || entry.isBlockDevice()) devices.push({ path: full });
      // /dev/pts and /dev/shm hold no devices a container may need; /dev/mqueue neither.
      else if (entry.isDirectory() && depth < 3 && !["pts", "shm", "mqueue"].includes(entry.name)) {
        await walk(full, depth + 1);
      }
    }
  };
  await walk(dir, 0);
  return devices;
}

async function appArmorProfiles(): Promise<Set<string>> {
  try {
    const text = await readFile("/sys/kernel/security/apparmor/profiles", "utf8");
    return new Set(
      text
        .split("\n")
        .map((line) => line.replace(/\s+\((enforce|complain|kill|unconfined)\)$/, "").trim())
        .filter(Boolean),
    );
  } catch {
    return new Set();
  }
}
