import type { Socket } from "node:net";
import type { Logger } from "pino";
import { messageOf } from "../errors.ts";
import type { PodDialer } from "./netns-dialer.ts";
import type { SpdyConnection, SpdyStream } from "./spdy-connection.ts";

export const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";

interface StreamPair {
  error?: SpdyStream;
  data?: SpdyStream;
  timer: NodeJS.Timeout;
}

/**
 * portforward.k8s.io over one SPDY connection: for every local connection the client opens
 * an `error` and a `data` stream with the same `requestid`; berth connects to the port inside
 * the pod, relays both ways (a FIN becomes a write shutdown) and ends both streams when the
 * pod's side is done. Many pairs share the connection. Resolves when the connection closes.
 */
export function servePortForward(
  conn: SpdyConnection,
  dialer: PodDialer,
  options: { streamCreationTimeoutMs: number; log: Logger },
): Promise<void> {
  const { log } = options;
  const pairs = new Map<string, StreamPair>();
  const sockets = new Set<Socket>();

  conn.on("stream", (stream) => {
    stream.reply();
    const type = stream.header("streamtype");
    if (type !== "error" && type !== "data") {
      log.debug({ streamType: type }, "port-forward: unknown stream type");
      stream.reset();
      return;
    }
    // Clients before requestid paired streams by id: the data stream follows its error one.
    const requestId =
      stream.header("requestid") ?? String(type === "data" ? stream.id - 2 : stream.id);
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        const p = pair as StreamPair;
        p.error?.end("timed out waiting for streams");
        p.data?.reset();
      }, options.streamCreationTimeoutMs);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      log.debug({ requestId, type }, "port-forward: duplicate stream");
      stream.reset();
      return;
    }
    pair[type] = stream;
    if (type === "error") stream.resume(); // the client only FINs it
    const { error, data } = pair;
    if (error && data) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(error, data);
    }
  });

  async function forward(error: SpdyStream, data: SpdyStream): Promise<void> {
    const portText = data.header("port") ?? "";
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) {
      error.end(`invalid port: ${JSON.stringify(portText)}`);
      data.end();
      return;
    }
    let socket: Socket;
    try {
      socket = await dialer.dial(port);
    } catch (err) {
      error.end(`error forwarding port ${port} to pod: ${messageOf(err)}`);
      data.end();
      return;
    }
    if (conn.closed || data.destroyed) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    // pipe() gives backpressure both ways and passes each side's end on as the other's
    // FIN / write shutdown.
    data.pipe(socket);
    socket.pipe(data);
    socket.on("error", (err) => log.debug({ port, err: err.message }, "port-forward socket"));
    // The pod's side finished first (a server closing after its reply): client-go ends the
    // connection only once the error stream reaches EOF too, so FIN it now, not at close.
    socket.on("end", () => {
      if (!error.destroyed && !error.writableEnded) error.end();
    });
    socket.on("close", () => {
      sockets.delete(socket);
      if (!data.destroyed && !data.writableEnded) data.end();
      if (!error.destroyed && !error.writableEnded) error.end();
    });
    data.on("close", () => {
      // A reset from the client means it is done with this connection, both ways.
      if (data.wasReset) socket.destroy();
    });
  }

  return new Promise((resolve) => {
    conn.once("close", () => {
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      pairs.clear();
      for (const socket of sockets) socket.destroy();
      dialer.close();
      resolve();
    });
  });
}
