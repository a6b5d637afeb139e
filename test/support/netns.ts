import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";

/** Runs a command inside the network namespace of a process (a pod's pause container). */
export function inNetns(pid: number, command: string[], timeoutMs = 10_000): string {
  return execFileSync("nsenter", [`--net=/proc/${pid}/ns/net`, "--", ...command], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

/** The namespace identity (e.g. "net:[4026531840]") of a process, to compare with the host's. */
export function namespaceOf(pid: number | "self", kind: "net" | "ipc" | "pid" | "uts"): string {
  return readlinkSync(`/proc/${pid}/ns/${kind}`);
}

/** Host-side interfaces, by name. */
export function hostLinks(): string[] {
  const links = JSON.parse(
    execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" }),
  ) as Array<{
    ifname: string;
  }>;
  return links.map((link) => link.ifname);
}
