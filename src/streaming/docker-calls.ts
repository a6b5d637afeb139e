import type { Socket } from "node:net";
import type { DockerClient } from "../docker/client.ts";
import type { DockerEndpoint } from "../docker/endpoint.ts";
import { DockerError } from "../docker/errors.ts";
import { hijack } from "../docker/hijack.ts";
import type { ContainerInspect, ExecCreateBody, ExecInspect } from "../docker/types.ts";
import type { TerminalSize } from "./command-status.ts";
import { delay } from "./remote-command.ts";

/** The engine calls the streaming code makes, typed. */
export interface StreamingDocker {
  client: DockerClient;
  /** For hijacked connections, which bypass the client's HTTP pool. */
  endpoint: DockerEndpoint;
}

export async function createExec(
  docker: StreamingDocker,
  containerId: string,
  body: ExecCreateBody,
  signal?: AbortSignal,
): Promise<string> {
  const created = await docker.client.json<{ Id: string }>(
    "POST",
    `/containers/${encodeURIComponent(containerId)}/exec`,
    { what: `create exec in container ${containerId}`, body, signal },
  );
  return created.Id;
}

/** Starts an exec attached: its streams then flow on the returned socket. */
export async function startExec(
  docker: StreamingDocker,
  execId: string,
  tty: boolean,
  signal?: AbortSignal,
): Promise<{ socket: Socket; head: Buffer }> {
  const version = await docker.client.apiVersion(signal);
  return hijack(
    docker.endpoint,
    "POST",
    `/v${version}/exec/${encodeURIComponent(execId)}/start`,
    { Detach: false, Tty: tty },
    `start exec ${execId}`,
    signal,
  );
}

export function inspectExec(
  docker: StreamingDocker,
  execId: string,
  signal?: AbortSignal,
): Promise<ExecInspect> {
  return docker.client.json("GET", `/exec/${encodeURIComponent(execId)}/json`, {
    what: `inspect exec ${execId}`,
    signal,
  });
}

export function resizeExec(docker: StreamingDocker, execId: string, size: TerminalSize) {
  return docker.client.call("POST", `/exec/${encodeURIComponent(execId)}/resize`, {
    what: `resize exec ${execId}`,
    query: { h: size.height, w: size.width },
  });
}

export async function attachContainer(
  docker: StreamingDocker,
  containerId: string,
  streams: { stdin: boolean; stdout: boolean; stderr: boolean },
  signal?: AbortSignal,
): Promise<{ socket: Socket; head: Buffer }> {
  const version = await docker.client.apiVersion(signal);
  const query = new URLSearchParams({
    stream: "1",
    stdin: streams.stdin ? "1" : "0",
    stdout: streams.stdout ? "1" : "0",
    stderr: streams.stderr ? "1" : "0",
  });
  return hijack(
    docker.endpoint,
    "POST",
    `/v${version}/containers/${encodeURIComponent(containerId)}/attach?${query}`,
    undefined,
    `attach to container ${containerId}`,
    signal,
  );
}

export function resizeContainer(docker: StreamingDocker, containerId: string, size: TerminalSize) {
  return docker.client.call("POST", `/containers/${encodeURIComponent(containerId)}/resize`, {
    what: `resize container ${containerId}`,
    query: { h: size.height, w: size.width },
  });
}

/** Inspects a container, answering undefined when the engine has no such container. */
export async function findContainer(
  docker: StreamingDocker,
  id: string,
  signal?: AbortSignal,
): Promise<ContainerInspect | undefined> {
  try {
    return await docker.client.json<ContainerInspect>(
      "GET",
      `/containers/${encodeURIComponent(id)}/json`,
      { what: `inspect container ${id}`, signal },
    );
  } catch (err) {
    if (err instanceof DockerError && err.kind === "NotFound") return undefined;
    throw err;
  }
}

/**
 * The exit code of an exec whose streams have ended. The engine closes the streams a moment
 * before it records the exit, so a still-running answer is asked again for a while.
 */
export async function waitExecExit(
  docker: StreamingDocker,
  execId: string,
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let pause = 5;
  for (;;) {
    const inspect = await inspectExec(docker, execId);
    if (!inspect.Running && inspect.ExitCode !== null) return inspect.ExitCode;
    if (Date.now() > deadline) {
      throw new Error(`exec ${execId} still running after its streams closed`);
    }
    await delay(pause);
    pause = Math.min(pause * 2, 200);
  }
}
