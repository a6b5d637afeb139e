import { readdir, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { CheckResult } from "./check.ts";
import { type CriAnswer, criVersion } from "./cri-version.ts";

export type CriSocketFacts =
  | { listen: string; kind: "tcp" }
  | { listen: string; kind: "unix"; path: string; state: "absent"; dirExists: boolean }
  | { listen: string; kind: "unix"; path: string; state: "not-socket" }
  | {
      listen: string;
      kind: "unix";
      path: string;
      state: "socket";
      mode: number;
      group: string;
      answer: CriAnswer;
    };

export async function gatherCriSocketFacts(listen: string): Promise<CriSocketFacts> {
  if (!listen.startsWith("unix://")) return { listen, kind: "tcp" };
  const path = listen.slice("unix://".length);
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    const dirExists = (await stat(dirname(path)).catch(() => undefined))?.isDirectory() === true;
    return { listen, kind: "unix", path, state: "absent", dirExists };
  }
  if (!info.isSocket()) return { listen, kind: "unix", path, state: "not-socket" };
  return {
    listen,
    kind: "unix",
    path,
    state: "socket",
    mode: info.mode & 0o777,
    group: await groupName(info.gid),
    answer: await criVersion(listen),
  };
}

async function groupName(gid: number): Promise<string> {
  const groups = await readFile("/etc/group", "utf8").catch(() => "");
  for (const line of groups.split("\n")) {
    const [name, , id] = line.split(":");
    if (name && Number(id) === gid) return name;
  }
  return String(gid);
}

export function evaluateCriSocket(facts: CriSocketFacts): CheckResult {
  const name = "cri-socket";
  if (facts.kind === "tcp") {
    return {
      name,
      status: "warn",
      detail: `CRI is served on ${facts.listen}: whoever reaches that port controls the node's containers`,
      fix: "serve CRI on a unix socket (the default unix:///run/berth/berth.sock) unless TCP is needed",
    };
  }
  if (facts.state === "absent") {
    return {
      name,
      status: "ok",
      detail: `${facts.path} is free; berth creates it with mode 0660${facts.dirExists ? "" : " (and its directory)"}`,
    };
  }
  if (facts.state === "not-socket") {
    return {
      name,
      status: "fail",
      detail: `${facts.path} exists and is not a socket: berth cannot serve there`,
      fix: `remove ${facts.path}, or name another path with --container-runtime-endpoint`,
    };
  }
  const mode = `mode 0${facts.mode.toString(8)}, group ${facts.group}`;
  if ((facts.mode & 0o007) !== 0) {
    return {
      name,
      status: "warn",
      detail: `${facts.path} (${mode}) is open to every user: anyone can run containers as root`,
      fix: `chmod 0660 ${facts.path} (berth creates it so; a socket unit should say SocketMode=0660)`,
    };
  }
  if (facts.answer.answers) {
    return {
      name,
      status: "ok",
      detail: `${facts.path} (${mode}) serves CRI: runtime ${facts.answer.runtimeName} ${facts.answer.runtimeVersion}`,
    };
  }
  return {
    name,
    status: "ok",
    detail: `${facts.path} (${mode}) is a socket no one serves (left by a stopped berth): berth replaces it at start`,
  };
}

export const CRI_DOCKERD_SOCKET = "/run/cri-dockerd.sock";
export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";

export interface OtherRuntimeFacts {
  /** Process ids of running cri-dockerd processes. */
  criDockerdPids: number[];
  criDockerd: CriAnswer | undefined;
  containerd: CriAnswer | undefined;
}

export async function gatherOtherRuntimeFacts(ownListen: string): Promise<OtherRuntimeFacts> {
  const ask = async (path: string) =>
    `unix://${path}` !== ownListen && (await stat(path).catch(() => undefined))?.isSocket()
      ? criVersion(`unix://${path}`)
      : undefined;
  const [criDockerdPids, criDockerd, containerd] = await Promise.all([
    processesNamed("cri-dockerd"),
    ask(CRI_DOCKERD_SOCKET),
    ask(CONTAINERD_SOCKET),
  ]);
  return { criDockerdPids, criDockerd, containerd };
}

async function processesNamed(comm: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const name = await readFile(`/proc/${entry}/comm`, "utf8").catch(() => "");
    if (name.trim() === comm) pids.push(Number(entry));
  }
  return pids;
}

export function evaluateOtherRuntimes(facts: OtherRuntimeFacts): CheckResult[] {
  const results: CheckResult[] = [];
  const serving = facts.criDockerd?.answers === true;
  if (facts.criDockerdPids.length > 0 || serving) {
    const where = [
      facts.criDockerdPids.length > 0
        ? `cri-dockerd runs (pid ${facts.criDockerdPids.join(", ")})`
        : "",
      serving ? `CRI answers at ${CRI_DOCKERD_SOCKET}` : "",
    ].filter(Boolean);
    results.push({
      name: "other-cri",
      status: "warn",
      detail: `${where.join(" and ")}: a second CRI runtime for the same engine; both name pod containers k8s_*, and a kubelet sees only one runtime's pods`,
      fix: "stop and disable cri-docker.service and cri-docker.socket, and point the kubelet at berth's socket only",
    });
  } else {
    results.push({ name: "other-cri", status: "ok", detail: "no cri-dockerd runs or answers" });
  }
  if (facts.containerd?.answers) {
    results.push({
      name: "containerd-cri",
      status: "info",
      detail: `containerd serves CRI at ${CONTAINERD_SOCKET} (${facts.containerd.runtimeName} ${facts.containerd.runtimeVersion}): a different engine from Docker's, with pods of its own`,
      fix: "make sure the kubelet's --container-runtime-endpoint names berth's socket",
    });
  }
  return results;
}
