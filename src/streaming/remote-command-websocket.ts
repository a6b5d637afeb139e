import { Readable, Writable } from "node:stream";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
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

/**
 * The WebSocket flavours of remotecommand: one message per write, byte 0 (or, in the base64
 * protocols, character 0) naming the channel.
 */
export const WEBSOCKET_REMOTE_COMMAND_PROTOCOLS = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  "channel.k8s.io",
  "base64.channel.k8s.io",
];

export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The subprotocol to answer with: the first the client offered that berth speaks. */
export function pickWebSocketProtocol(offered: Iterable<string>): string | undefined {
  for (const protocol of offered) {
    if (WEBSOCKET_REMOTE_COMMAND_PROTOCOLS.includes(protocol)) return protocol;
  }
  return undefined;
}

export function isBase64Protocol(protocol: string): boolean {
  return protocol.includes("base64");
}

/** One outgoing message: binary `[channel, ...data]`, or text `'0'+channel` then base64. */
export function encodeChannelMessage(
  protocol: string,
  channel: number,
  data: Buffer,
): Buffer | string {
  if (isBase64Protocol(protocol)) return String(channel) + data.toString("base64");
  const message = Buffer.allocUnsafe(1 + data.length);
  message[0] = channel;
  data.copy(message, 1);
  return message;
}

/** One incoming message as channel and payload, or undefined when it is not well formed. */
export function decodeChannelMessage(
  protocol: string,
  message: Buffer,
  isBinary: boolean,
): { channel: number; data: Buffer } | undefined {
  if (isBase64Protocol(protocol)) {
    if (isBinary || message.length === 0) return undefined;
    const text = message.toString("latin1");
    const channel = text.charCodeAt(0) - 48;
    if (channel < 0 || channel > 9) return undefined;
    return { channel, data: Buffer.from(text.slice(1), "base64") };
  }
  if (!isBinary || message.length === 0) return undefined;
  return { channel: message[0] as number, data: message.subarray(1) };
}

/**
 * Wraps an open WebSocket as a session's streams. There is no stream-setup phase: the
 * session starts on connect. As upstream does, an empty message on the lowest output channel
 * tells the client the session is up.
 */
export function acceptWebSocketRemoteCommand(
  ws: WebSocket,
  protocol: string,
  flags: StreamFlags,
  log: Logger,
): RemoteCommandStreams {
  const gone = new AbortController();
  let finished = false;
  const send = (channel: number, data: Buffer, callback?: (err?: Error) => void) => {
    if (ws.readyState !== ws.OPEN) {
      callback?.(new Error("websocket closed"));
      return;
    }
    ws.send(
      encodeChannelMessage(protocol, channel, data),
      { binary: !isBase64Protocol(protocol) },
      callback,
    );
  };

  const stdin = flags.stdin
    ? new Readable({
        read: () => ws.resume(),
      })
    : undefined;
  stdin?.on("error", () => {});
  const output = (channel: number) =>
    new Writable({
      // One message in flight per channel: the callback fires once the socket took it, so
      // a slow client slows the process instead of growing a buffer here.
      write: (chunk: Buffer, _enc, callback) => send(channel, chunk, (err) => callback(err)),
    }).on("error", () => {});
  const stdout = flags.stdout ? output(Channel.stdout) : undefined;
  const stderr = flags.stderr && !flags.tty ? output(Channel.stderr) : undefined;

  const sizes = new TerminalSizes();
  const resizeDecoder = new ResizeDecoder();

  ws.on("message", (message: Buffer, isBinary: boolean) => {
    const decoded = decodeChannelMessage(protocol, message, isBinary);
    if (!decoded) {
      log.debug({ protocol }, "malformed websocket message: closing");
      ws.close(1003, "malformed message");
      return;
    }
    const { channel, data } = decoded;
    if (channel === Channel.stdin) {
      if (stdin && !stdin.readableEnded && data.length > 0 && !stdin.push(data) && !finished) {
        ws.pause();
      }
    } else if (channel === Channel.resize) {
      for (const size of resizeDecoder.push(data)) sizes.report(size);
    } else if (channel === Channel.close && protocol === "v5.channel.k8s.io") {
      // v5: the client closed one of its channels; only stdin means anything to berth.
      if (data[0] === Channel.stdin && stdin && !stdin.readableEnded) stdin.push(null);
    }
  });
  ws.on("close", () => {
    if (stdin && !stdin.readableEnded) stdin.push(null);
    if (!finished) gone.abort(new Error("client went away"));
  });
  ws.on("error", (err) => log.debug({ err: err.message }, "websocket error"));

  send(
    flags.stdout ? Channel.stdout : flags.stderr ? Channel.stderr : Channel.error,
    Buffer.alloc(0),
  );

  return {
    stdin,
    stdout,
    stderr,
    onResize: (listener) => sizes.listen(listener),
    clientGone: gone.signal,
    finish: async (outcome: CommandOutcome) => {
      finished = true;
      if (ws.readyState !== ws.OPEN) return;
      await Promise.all([endWritable(stdout), endWritable(stderr)]);
      const v4 = protocol.startsWith("v4.") || protocol.startsWith("v5.");
      const text = v4 ? statusJson(outcome) : legacyStatusText(outcome);
      if (text !== "")
        await new Promise<void>((resolve) =>
          send(Channel.error, Buffer.from(text), () => resolve()),
        );
      // stdin backpressure may have paused the socket: the client's close frame must be read.
      ws.resume();
      await closeWebSocket(ws, 1000);
    },
  };
}

/** Closes with a code and waits for the close handshake, cutting it short after a while. */
export function closeWebSocket(ws: WebSocket, code: number): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), 5_000);
    timer.unref();
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code);
  });
}
