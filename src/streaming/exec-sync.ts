import type { Socket } from "node:net";
import type { Logger } from "pino";
import { deadlineExceeded } from "../errors.ts";
import { DockerStream, DockerStreamDemuxer } from "./docker-stream.ts";
import { killExec } from "./exec-session.ts";
import { type StreamingEngine, waitExecExit } from "./streaming-engine.ts";

/**
 * Output kept per stream. The kubelet accepts CRI messages up to 16 MiB; both streams and a
 * marker stay well inside that, and probes (the main user) read far less.
 */
export const EXEC_SYNC_OUTPUT_LIMIT = 4 << 20;

/** Keeps the first `limit` bytes of a stream and says so, in the output itself, if cut. */
export class BoundedOutput {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #dropped = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(data: Buffer): void {
    const room = this.#limit - this.#kept;
    if (room > 0) {
      const piece = data.subarray(0, room);
      this.#chunks.push(piece);
      this.#kept += piece.length;
    }
    this.#dropped += Math.max(0, data.length - Math.max(room, 0));
  }

  get truncated(): boolean {
    return this.#dropped > 0;
  }

  bytes(): Buffer {
    const kept = Buffer.concat(this.#chunks);
    if (!this.truncated) return kept;
    const marker = `\n[berth: output truncated: kept the first ${this.#limit} bytes, dropped ${this.#dropped}]\n`;
    return Buffer.concat([kept, Buffer.from(marker)]);
  }
}

export interface CommandOutput {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/**
 * Runs a command in a running container through Docker exec and answers its output and exit
 * code. When `timeoutSeconds` passes (or the caller gives up) the exec'd process and its
 * descendants are killed on the host before DEADLINE_EXCEEDED is raised: Docker has no exec
 * kill, and cri-dockerd leaves such processes running.
 */
export async function runCommand(
  docker: StreamingEngine,
  containerId: string,
  cmd: string[],
  timeoutSeconds: number,
  signal: AbortSignal,
  log: Logger,
): Promise<CommandOutput> {
  const execId = await docker.createExec(
    containerId,
    { AttachStdout: true, AttachStderr: true, Tty: false, Cmd: cmd },
    signal,
  );
  const timedOut = new AbortController();
  const timer =
    timeoutSeconds > 0 ? setTimeout(() => timedOut.abort(), timeoutSeconds * 1000) : undefined;
  const stop = AbortSignal.any([signal, timedOut.signal]);
  const stdout = new BoundedOutput(EXEC_SYNC_OUTPUT_LIMIT);
  const stderr = new BoundedOutput(EXEC_SYNC_OUTPUT_LIMIT);
  let socket: Socket | undefined;
  try {
    const started = await docker.startExec(execId, false, stop);
    socket = started.socket;
    await collect(started.socket, started.head, stdout, stderr, stop);
  } catch (err) {
    if (!stop.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  if (stop.aborted) {
    await killExec(docker, execId, log);
    socket?.destroy();
    if (timedOut.signal.aborted) {
      throw deadlineExceeded(
        `command ${JSON.stringify(cmd)} timed out after ${timeoutSeconds}s and was killed`,
      );
    }
    throw signal.reason;
  }
  socket?.destroy();
  const exitCode = await waitExecExit(docker, execId);
  return { stdout: stdout.bytes(), stderr: stderr.bytes(), exitCode };
}

/** Reads the exec's multiplexed output until the engine ends it or `stop` fires. */
function collect(
  socket: Socket,
  head: Buffer,
  stdout: BoundedOutput,
  stderr: BoundedOutput,
  stop: AbortSignal,
): Promise<void> {
  const demuxer = new DockerStreamDemuxer();
  const deliver = (chunk: Buffer) => {
    for (const frame of demuxer.push(chunk)) {
      if (frame.stream === DockerStream.stdout) stdout.push(frame.data);
      else if (frame.stream === DockerStream.stderr) stderr.push(frame.data);
    }
  };
  return new Promise((resolve) => {
    const done = () => {
      stop.removeEventListener("abort", done);
      resolve();
    };
    stop.addEventListener("abort", done, { once: true });
    socket.on("data", deliver);
    socket.once("end", done);
    socket.once("close", done);
    socket.on("error", done);
    if (head.length > 0) deliver(head);
    socket.resume();
  });
}
