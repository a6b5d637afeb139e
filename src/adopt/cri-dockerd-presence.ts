import { readdir, readFile, realpath } from "node:fs/promises";

/** cri-dockerd's default engine (cmd/cri/options on Linux). */
const CRI_DOCKERD_DEFAULT_ENGINE = "unix:///var/run/docker.sock";
/** __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket listens. */
const SO_ACCEPTCON = 0x10000;

/** The paths of the listening unix sockets in /proc/net/unix's text. */
export function listeningUnixSockets(procNetUnix: string): Set<string> {
  const paths = new Set<string>();
  for (const line of procNetUnix.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const flags = Number.parseInt(fields[3] ?? "", 16);
    const path = fields[7];
    if (path?.startsWith("/") && (flags & SO_ACCEPTCON) !== 0) paths.add(path);
  }
  return paths;
}

/**
 * The engine a cri-dockerd command line talks to: its --docker-endpoint, written as Go's flag
 * package takes it (one or two dashes, `=value` or the next word; the last one wins).
 */
export function criDockerdEngineOf(argv: readonly string[]): string {
  let engine = CRI_DOCKERD_DEFAULT_ENGINE;
  for (let i = 1; i < argv.length; i++) {
    const match = /^--?docker-endpoint(?:=(.*))?$/.exec(argv[i] ?? "");
    if (!match) continue;
    if (match[1] !== undefined) engine = match[1];
    else if (i + 1 < argv.length) engine = argv[++i] ?? engine;
  }
  return engine;
}

/** An engine endpoint compared by where it leads: unix sockets by their resolved path. */
export async function sameEngine(a: string, b: string): Promise<boolean> {
  const canonical = async (endpoint: string) => {
    if (!endpoint.startsWith("unix://")) return endpoint;
    const path = endpoint.slice("unix://".length);
    return `unix://${await realpath(path).catch(() => path)}`;
  };
  return (await canonical(a)) === (await canonical(b));
}

export interface PresenceInput {
  /** The engine berth serves (--docker-endpoint). */
  dockerHost: string;
  /** cri-dockerd's CRI socket (--cri-dockerd-endpoint); undefined: berth serves it itself. */
  criDockerdSocket: string | undefined;
  /** Test seams: the /proc to scan. */
  procDir?: string;
}

/**
 * Why cri-dockerd still serves this engine, or undefined when it does not: a live cri-dockerd
 * process on the same engine, or anything listening on cri-dockerd's socket (systemd's
 * cri-docker.socket starts cri-dockerd on the first connection).
 */
export async function criDockerdStillServes(input: PresenceInput): Promise<string | undefined> {
  const proc = input.procDir ?? "/proc";
  for (const pid of await readdir(proc).catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const comm = await readFile(`${proc}/${pid}/comm`, "utf8").catch(() => "");
    if (comm.trim() !== "cri-dockerd") continue;
    // A zombie serves nothing: its state is the field after the parenthesised name.
    const stat = await readFile(`${proc}/${pid}/stat`, "utf8").catch(() => "");
    if (/\) Z /.test(stat)) continue;
    const cmdline = await readFile(`${proc}/${pid}/cmdline`, "utf8").catch(() => "");
    const engine = criDockerdEngineOf(cmdline.split("\0").filter((word) => word !== ""));
    if (await sameEngine(engine, input.dockerHost)) {
      return `cri-dockerd (pid ${pid}) still serves ${input.dockerHost}: stop it first (systemctl disable --now cri-docker.socket cri-docker.service)`;
    }
  }
  const socket = input.criDockerdSocket;
  if (socket !== undefined) {
    const listening = listeningUnixSockets(
      await readFile(`${proc}/net/unix`, "utf8").catch(() => ""),
    );
    const resolved = await realpath(socket).catch(() => socket);
    if (listening.has(socket) || listening.has(resolved)) {
      return `cri-dockerd's socket ${socket} is still listening (cri-dockerd, or systemd's cri-docker.socket): stop it first (systemctl disable --now cri-docker.socket cri-docker.service)`;
    }
  }
  return undefined;
}
