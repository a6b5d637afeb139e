import type { PreadFiles } from "./pread-files.ts";

/**
 * A pod's network counters, read from /proc/<pid>/net/dev of its pause process: procfs shows
 * that file for the network namespace of the process named in the path, so no setns/nsenter
 * is needed and the read is one pread on a kept-open handle.
 */

export interface InterfaceCounters {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/** The interface the kubelet's summary shows first: containerd's choice, eth0, else the first. */
export const DEFAULT_INTERFACE = "eth0";

/**
 * /proc/net/dev: two header lines, then "name: rx bytes packets errs drop fifo frame
 * compressed multicast tx bytes packets errs drop fifo colls carrier compressed". Loopback is
 * left out, as cAdvisor and containerd leave it out: it is not the pod's traffic.
 */
export function parseNetDev(text: string): InterfaceCounters[] {
  const interfaces: InterfaceCounters[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === "" || name === "lo" || name.includes("|")) continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (fields.length < 16 || !fields.every((field) => /^\d+$/.test(field))) continue;
    const n = (i: number) => BigInt(fields[i] as string);
    interfaces.push({
      name,
      rxBytes: n(0),
      rxPackets: n(1),
      rxErrors: n(2),
      rxDropped: n(3),
      txBytes: n(8),
      txPackets: n(9),
      txErrors: n(10),
      txDropped: n(11),
    });
  }
  return interfaces;
}

export function defaultInterfaceOf(interfaces: InterfaceCounters[]): InterfaceCounters | undefined {
  return interfaces.find((i) => i.name === DEFAULT_INTERFACE) ?? interfaces[0];
}

/** The counters of the network namespace `pid` lives in; rejects when the process is gone. */
export async function readNetDev(
  files: PreadFiles,
  owner: string,
  pid: number,
  procRoot = "/proc",
): Promise<InterfaceCounters[]> {
  return parseNetDev(await files.read(owner, `${procRoot}/${pid}/net/dev`));
}
