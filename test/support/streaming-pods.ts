import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { pino } from "pino";
import type { DockerClient } from "../../src/docker/client.ts";
import type { ContainerCreateBody } from "../../src/docker/types.ts";
import type { CallContext } from "../../src/server/call-context.ts";
import type { StreamingEngine } from "../../src/streaming/streaming-engine.ts";
import type {
  StreamingContainer,
  StreamingLookup,
  StreamingSandbox,
} from "../../src/streaming/streaming-lookup.ts";
import {
  StreamingServer,
  type StreamingServerOptions,
} from "../../src/streaming/streaming-server.ts";
import { testDocker } from "./docker.ts";

/**
 * "Pods" for the streaming tests, made straight with the Docker API (the sandbox RPCs are
 * another part of berth): a sandbox is a busybox container sleeping, app containers join its
 * network namespace. Everything is labelled so `removeAll` finds it.
 */
export const TEST_LABEL = "io.berth.test";
export const TEST_LABEL_VALUE = "streaming";
export const BUSYBOX = "berth-test/busybox:1.0";

export function streamingDocker(): DockerClient {
  return testDocker();
}

export const silentLog = pino({ level: process.env.BERTH_TEST_LOG ?? "silent" });

export function callContext(timeoutMs = 60_000): CallContext {
  return {
    signal: AbortSignal.timeout(timeoutMs),
    deadline: new Date(Date.now() + timeoutMs),
    log: silentLog,
  };
}

export async function runContainer(
  docker: DockerClient,
  body: Partial<ContainerCreateBody> & { Cmd: string[] },
): Promise<string> {
  const created = await docker.createContainer(`berth-test-streaming-${randomUUID()}`, {
    Image: BUSYBOX,
    ...body,
    Labels: { [TEST_LABEL]: TEST_LABEL_VALUE, ...body.Labels },
  });
  await docker.startContainer(created.Id);
  return created.Id;
}

/** A sandbox: its own network namespace (NetworkMode none: loopback only), or the host's. */
export function runSandbox(docker: DockerClient, hostNetwork = false): Promise<string> {
  return runContainer(docker, {
    Cmd: ["sleep", "3600"],
    HostConfig: { NetworkMode: hostNetwork ? "host" : "none" },
  });
}

/** An app container in a sandbox's network namespace. */
export function runInSandbox(
  docker: DockerClient,
  sandboxId: string,
  cmd: string[],
  extra: Partial<ContainerCreateBody> = {},
): Promise<string> {
  return runContainer(docker, {
    ...extra,
    Cmd: cmd,
    HostConfig: { NetworkMode: `container:${sandboxId}`, ...extra.HostConfig },
  });
}

export async function removeAll(docker: DockerClient): Promise<void> {
  const list = await docker.listContainers({ label: [`${TEST_LABEL}=${TEST_LABEL_VALUE}`] });
  for (const c of list) {
    await docker.removeContainer(c.Id).catch(() => {});
  }
}

/** Host PIDs of live (not zombie) processes whose argv is exactly `argv`. */
export function hostProcesses(argv: string[]): number[] {
  const wanted = `${argv.join("\0")}\0`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8") !== wanted) continue;
      const state = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.[0];
      if (state !== "Z") found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Polls until `check` holds or the time is up; answers whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

export interface StreamingFixture {
  docker: ReturnType<typeof streamingDocker>;
  server: StreamingServer;
  lookup: DockerStreamingLookup;
  deps: { server: StreamingServer; lookup: DockerStreamingLookup };
  stop(): Promise<void>;
}

/** A streaming server on loopback with the Docker-inspect lookup, as the tests use it. */
export async function startStreaming(
  options: Partial<StreamingServerOptions> = {},
): Promise<StreamingFixture> {
  const docker = streamingDocker();
  const server = await StreamingServer.start({
    bindAddress: "127.0.0.1:0",
    docker,
    log: silentLog,
    ...options,
  });
  const lookup = new DockerStreamingLookup(docker);
  return {
    docker,
    server,
    lookup,
    deps: { server, lookup },
    stop: async () => {
      await server.stop();
      await removeAll(docker);
      await docker.close();
    },
  };
}

/**
 * The lookup straight from `docker inspect`: a sandbox is the pod's pause container, whose
 * process holds the pod's network namespace.
 */
export class DockerStreamingLookup implements StreamingLookup {
  readonly #docker: Pick<StreamingEngine, "findContainer">;

  constructor(docker: Pick<StreamingEngine, "findContainer">) {
    this.#docker = docker;
  }

  async container(id: string, signal?: AbortSignal): Promise<StreamingContainer | undefined> {
    const inspect = await this.#docker.findContainer(id, signal);
    if (!inspect) return undefined;
    return {
      id: inspect.Id,
      running: inspect.State.Running && !inspect.State.Restarting,
      tty: inspect.Config.Tty === true,
      stdin: inspect.Config.OpenStdin === true,
    };
  }

  async sandbox(id: string, signal?: AbortSignal): Promise<StreamingSandbox | undefined> {
    const inspect = await this.#docker.findContainer(id, signal);
    if (!inspect) return undefined;
    const running = inspect.State.Running && inspect.State.Pid > 0;
    return {
      id: inspect.Id,
      ready: running,
      netnsPath:
        inspect.HostConfig.NetworkMode === "host" ? undefined : `/proc/${inspect.State.Pid}/ns/net`,
    };
  }
}
