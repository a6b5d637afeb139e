import { readFile } from "node:fs/promises";
import { capabilitiesInMask } from "../runtime/capabilities.ts";
import type { CheckResult } from "./check.ts";

export interface CapabilityFacts {
  euid: number;
  /** Capability names in this process's bounding set (/proc/self/status CapBnd). */
  bounding: string[];
  /** Every capability the kernel knows (up to /proc/sys/kernel/cap_last_cap). */
  all: string[];
}

export async function gatherCapabilityFacts(): Promise<CapabilityFacts> {
  const status = await readFile("/proc/self/status", "utf8");
  const capBnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0";
  const lastCap = Number((await readFile("/proc/sys/kernel/cap_last_cap", "utf8")).trim());
  return {
    euid: process.geteuid?.() ?? -1,
    bounding: capabilitiesInMask(capBnd, lastCap),
    all: capabilitiesInMask("f".repeat(16), lastCap),
  };
}

/** Without these berth cannot network pods (CNI, network namespaces) nor mount. */
const REQUIRED = ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"];

export function evaluateCapabilities(facts: CapabilityFacts): CheckResult {
  if (facts.euid !== 0) {
    return {
      name: "capabilities",
      status: "fail",
      detail: `running as uid ${facts.euid}: berth needs root (network namespaces, CNI plugins, the engine's socket)`,
      fix: "run berth (and berth doctor) as root, as its systemd unit does",
    };
  }
  const missing = facts.all.filter((name) => !facts.bounding.includes(name));
  const required = REQUIRED.filter((name) => missing.includes(name));
  if (required.length > 0) {
    return {
      name: "capabilities",
      status: "fail",
      detail: `the bounding set lacks ${required.join(", ")}: berth cannot set up pod networks`,
      fix: "run berth on the host, or in a container with every capability",
    };
  }
  if (missing.length === 0) {
    return { name: "capabilities", status: "ok", detail: "root, with every capability" };
  }
  const adaptations = [
    "privileged containers get the host's capabilities, not Docker's --privileged",
  ];
  if (missing.includes("CAP_SYS_RESOURCE")) {
    adaptations.unshift("negative oom_score_adj values are clamped to 0");
  }
  return {
    name: "capabilities",
    status: "warn",
    detail: `the bounding set lacks ${missing.join(", ")}; berth adapts: ${adaptations.join("; ")}`,
    fix: "run berth where the bounding set is full (a real node grants every capability)",
  };
}
