import type { Socket } from "node:net";
import type { Writable } from "node:stream";
import type { Logger } from "pino";
import type { TerminalSize } from "./command-status.ts";
import { DockerStream, DockerStreamDemuxer } from "./docker-stream.ts";
import type { RemoteCommandStreams } from "./remote-command.ts";

export interface RelayOptions {
  /** The hijacked engine connection and the bytes that came with its response head. */
  socket: Socket;
  head: Buffer;
  /** Raw output (tty) or Docker's multiplexed format. */
  tty: boolean;
  io: RemoteCommandStreams;
  /** Whether the engine reads stdin on this connection at all. */
  stdinAttached: boolean;
  /** Pass the client's stdin EOF on as a write shutdown of the engine connection. */
  forwardStdinEof: boolean;
  log: Logger;
}

/**
 * Copies between a client session and a hijacked engine connection until the engine ends
 * it. Backpressure both ways: output the client cannot take yet pauses the engine socket,
 * stdin the engine cannot take yet pauses the client's stdin; nothing queues without bound.
 */
export function relayDockerConnection(options: RelayOptions): Promise<void> {
  const { socket, io, log } = options;
  const demuxer = options.tty ? undefined : new DockerStreamDemuxer();
  const waiting = new Set<Writable>();

  const targetOf = (stream: number): Writable | undefined => {
    if (stream === DockerStream.stdout) return io.stdout;
    if (stream === DockerStream.stderr) return io.stderr;
    return undefined;
  };
  const deliver = (chunk: Buffer) => {
    const frames = demuxer ? demuxer.push(chunk) : [{ stream: DockerStream.stdout, data: chunk }];
    for (const frame of frames) {
      if (frame.stream === DockerStream.systemError) {
        log.warn({ message: frame.data.toString("utf8") }, "engine reported a stream error");
        continue;
      }
      const target = targetOf(frame.stream);
      if (!target || target.destroyed || target.writableEnded) continue;
      if (!target.write(frame.data) && !waiting.has(target)) {
        waiting.add(target);
        socket.pause();
        const resume = () => {
          target.off("drain", resume);
          target.off("close", resume);
          waiting.delete(target);
          if (waiting.size === 0) socket.resume();
        };
        target.on("drain", resume);
        target.on("close", resume);
      }
    }
  };

  const stdin = io.stdin;
  if (stdin) {
    if (options.stdinAttached) {
      stdin.on("data", (data: Buffer) => {
        if (socket.destroyed || socket.writableEnded) return;
        if (!socket.write(data)) {
          stdin.pause();
          socket.once("drain", () => stdin.resume());
        }
      });
      const onEof = () => {
        if (options.forwardStdinEof && !socket.destroyed && !socket.writableEnded) socket.end();
      };
      stdin.once("end", onEof);
    } else {
      stdin.resume(); // nothing reads it: drain it so the client is not blocked
    }
  }

  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve();
    };
    socket.on("data", deliver);
    socket.once("end", finish);
    socket.once("close", finish);
    socket.on("error", (err) => {
      log.debug({ err: err.message }, "engine stream error");
      finish();
    });
    if (options.head.length > 0) deliver(options.head);
    socket.resume();
  });
}

/**
 * Applies terminal sizes one at a time, the latest winning: a burst of resizes while one is
 * in flight collapses into one call.
 */
export function serialResizer(
  apply: (size: TerminalSize) => Promise<void>,
  log: Logger,
): (size: TerminalSize) => void {
  let pending: TerminalSize | undefined;
  let running = false;
  const run = async () => {
    running = true;
    while (pending) {
      const size = pending;
      pending = undefined;
      try {
        await apply(size);
      } catch (err) {
        // The process may have exited a moment ago; a lost resize harms nothing.
        log.debug({ err: (err as Error).message }, "resize failed");
      }
    }
    running = false;
  };
  return (size) => {
    pending = size;
    if (!running) void run();
  };
}
