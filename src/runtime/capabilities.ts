/** Linux capability names by number (linux/capability.h), as Docker and the CRI spell them. */
export const CAPABILITY_NAMES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

/**
 * The capability names in a /proc/<pid>/status mask (CapBnd: "000001fffeffffff"), limited to
 * capabilities the running kernel knows (cap_last_cap) and berth can name.
 */
export function capabilitiesInMask(hexMask: string, lastCap: number): string[] {
  const mask = BigInt(`0x${hexMask.trim()}`);
  const names: string[] = [];
  for (let bit = 0; bit <= lastCap && bit < CAPABILITY_NAMES.length; bit++) {
    if (mask & (1n << BigInt(bit))) names.push(CAPABILITY_NAMES[bit] as string);
  }
  return names;
}

/** True when the mask holds every capability up to cap_last_cap. */
export function isFullMask(hexMask: string, lastCap: number): boolean {
  const mask = BigInt(`0x${hexMask.trim()}`);
  const full = (1n << BigInt(lastCap + 1)) - 1n;
  return (mask & full) === full;
}
