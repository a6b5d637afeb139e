/** The first file descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

export interface ActivatedSocket {
  fd: number;
  /** The socket unit's FileDescriptorName= (the unit's name by default). */
  name: string;
}

/** `--container-runtime-endpoint fd://...` that the passed sockets cannot satisfy. */
export class ActivationError extends Error {}

/**
 * The listening sockets systemd passed (sd_listen_fds(3)): LISTEN_FDS of them from fd 3 on,
 * meant for this process only when LISTEN_PID is its pid. The variables are removed from the
 * environment whatever they say, as sd_listen_fds(unset_environment=1) does, so that no child
 * berth spawns (CNI plugins, helpers) takes the sockets for its own.
 */
export function takeActivatedSockets(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): ActivatedSocket[] {
  const { LISTEN_PID: listenPid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (listenPid === undefined || Number(listenPid) !== pid) return [];
  const n = Number(count);
  if (!Number.isInteger(n) || n <= 0) return [];
  const nameList = names?.split(":") ?? [];
  return Array.from({ length: n }, (_, i) => ({
    fd: FIRST_FD + i,
    name: nameList[i] || "unknown",
  }));
}

/**
 * The socket an `fd://` endpoint names: `fd://` takes the first, as cri-dockerd does;
 * `fd://NAME` the one whose FileDescriptorName= is NAME.
 */
export function selectActivatedSocket(endpoint: string, sockets: ActivatedSocket[]): number {
  const name = endpoint.slice("fd://".length);
  if (sockets.length === 0) {
    throw new ActivationError(
      `--container-runtime-endpoint ${endpoint}: no socket was passed (LISTEN_FDS/LISTEN_PID unset or for another process); start berth from its systemd socket unit, or listen on unix:///path`,
    );
  }
  if (name === "") return (sockets[0] as ActivatedSocket).fd;
  const found = sockets.find((socket) => socket.name === name);
  if (!found) {
    throw new ActivationError(
      `--container-runtime-endpoint ${endpoint}: systemd passed no socket named ${name} (passed: ${sockets.map((s) => s.name).join(", ")})`,
    );
  }
  return found.fd;
}
