import type { Logger } from "pino";
import {
  type CommandOutcome,
  legacyStatusText,
  ResizeDecoder,
  statusJson,
} from "./command-status.ts";
import {
  endWritable,
  type RemoteCommandStreams,
  type StreamFlags,
  TerminalSizes,
} from "./remote-command.ts";
import type { SpdyConnection, SpdyStream } from "./spdy-connection.ts";

/** remotecommand subprotocols berth accepts over SPDY, most preferred first. */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = [
  // v5 over SPDY is v4 (the client says so itself); offering it would only add a name.
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
];

const STREAM_TYPES = ["error", "stdin", "stdout", "stderr", "resize"] as const;
type StreamType = (typeof STREAM_TYPES)[number];

/** The stream types a session waits for: from the CRI request, as upstream counts them. */
export function expectedStreamTypes(protocol: string, flags: StreamFlags): StreamType[] {
  const types: StreamType[] = ["error"];
  if (flags.stdin) types.push("stdin");
  if (flags.stdout) types.push("stdout");
  // A tty merges stderr into stdout; the client opens no stderr stream then.
  if (flags.stderr && !flags.tty) types.push("stderr");
  if (flags.tty && supportsResize(protocol)) types.push("resize");
  return types;
}

function supportsResize(protocol: string): boolean {
  return protocol === "v3.channel.k8s.io" || protocol === "v4.channel.k8s.io";
}

/**
 * Waits for the client to open the streams the session needs (it creates them one by one,
 * each waiting for berth's SYN_REPLY), then hands them over. Gives up after the timeout,
 * closing the connection.
 */
export function acceptSpdyRemoteCommand(
  conn: SpdyConnection,
  protocol: string,
  flags: StreamFlags,
  timeoutMs: number,
  log: Logger,
): Promise<RemoteCommandStreams> {
  const expected = new Set(expectedStreamTypes(protocol, flags));
  const streams = new Map<StreamType, SpdyStream>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      conn.destroy();
      reject(new Error("timed out waiting for client to create streams"));
    }, timeoutMs);
    const onClose = () => {
      cleanup();
      reject(new Error("client closed the connection while creating streams"));
    };
    const onStream = (stream: SpdyStream) => {
      stream.reply();
      const type = stream.header("streamtype") as StreamType | undefined;
      if (!type || !expected.has(type) || streams.has(type)) {
        log.debug({ streamType: type }, "unexpected stream ignored");
        stream.resume();
        return;
      }
      streams.set(type, stream);
      if (streams.size === expected.size) {
        cleanup();
        resolve(sessionStreams(conn, protocol, streams));
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      conn.off("stream", onStream);
      conn.off("close", onClose);
    };
    conn.on("stream", onStream);
    conn.on("close", onClose);
  });
}

function sessionStreams(
  conn: SpdyConnection,
  protocol: string,
  streams: Map<StreamType, SpdyStream>,
): RemoteCommandStreams {
  const gone = new AbortController();
  let finished = false;
  conn.on("close", () => {
    if (!finished) gone.abort(new Error("client went away"));
  });
  // Streams opened later (a client would not) are answered and drained.
  conn.on("stream", (extra) => {
    extra.reply();
    extra.resume();
  });

  const errorStream = streams.get("error");
  // The client never writes on the error stream; reading it lets its FIN complete.
  errorStream?.resume();

  const sizes = new TerminalSizes();
  const resize = streams.get("resize");
  if (resize) {
    const decoder = new ResizeDecoder();
    resize.on("data", (chunk: Buffer) => {
      for (const size of decoder.push(chunk)) sizes.report(size);
    });
  }

  return {
    stdin: streams.get("stdin"),
    stdout: streams.get("stdout"),
    stderr: streams.get("stderr"),
    onResize: (listener) => sizes.listen(listener),
    clientGone: gone.signal,
    finish: async (outcome: CommandOutcome) => {
      finished = true;
      if (conn.closed) return;
      // Output first, then the status, then GOAWAY: the client stops reading at GOAWAY.
      await Promise.all([endWritable(streams.get("stdout")), endWritable(streams.get("stderr"))]);
      if (errorStream && !errorStream.destroyed) {
        const text =
          protocol === "v4.channel.k8s.io" ? statusJson(outcome) : legacyStatusText(outcome);
        if (text !== "") errorStream.write(text);
        await endWritable(errorStream);
      }
      await conn.close();
    },
  };
}
