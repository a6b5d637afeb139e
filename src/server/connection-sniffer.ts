import type { Socket } from "node:net";
import {
  AuthorityRewriter,
  FRAME_HEADER_BYTES,
  HeaderRewriteError,
  PREFACE,
} from "./authority-rewrite.ts";

/**
 * Decides, before grpc-js sees a connection, whether its client needs the `:authority`
 * rewrite (old kubelets) or can have the socket itself. A connection handed over as a JS
 * stream (the rewriting Duplex) costs the HTTP/2 server about twice the CPU per call of a
 * native socket, for as long as it lives, and the kubelet's one connection carries every call
 * of the node's lifetime: so only the clients that need the rewrite pay for it.
 *
 * The client's first header block tells, and a client sends it only after the server's
 * SETTINGS (grpc-go waits for them). So the sniffer sends an empty SETTINGS frame itself, holds
 * what the client sends until both the first header block and the client's ACK of that
 * SETTINGS arrived, drops that one ACK (the server never sent those settings, and nghttp2
 * treats an ACK it did not ask for as a protocol error), and hands everything else on:
 * pushed back into the socket for the native path, or through the rewriter.
 */

export type ConnectionRoute =
  | { kind: "native" }
  | { kind: "rewrite"; rewriter: AuthorityRewriter; pieces: Buffer[] };

const TYPE_SETTINGS = 0x4;
const FLAG_ACK = 0x1;
/** An empty SETTINGS frame on stream 0: changes nothing, only asks for an ACK. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, TYPE_SETTINGS, 0, 0, 0, 0, 0]);

export interface SniffOptions {
  /**
   * A client that ACKed but sent no request yet is handed over through the rewriter after this
   * long (it may send an old `:authority` later); the default suits a client that connects
   * ahead of its first call.
   */
  firstRequestWaitMs?: number;
  /** A client that has not sent the preface and its ACK by then is disconnected. */
  handshakeTimeoutMs?: number;
}

export function sniffConnection(
  socket: Socket,
  options: SniffOptions = {},
): Promise<ConnectionRoute> {
  const firstRequestWaitMs = options.firstRequestWaitMs ?? 1_000;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const rewriter = new AuthorityRewriter();
    const pieces: Buffer[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let prefaceSeen = false;
    let ackSeen = false;
    let settled = false;
    let waitedForRequest = false;

    const finish = (route: ConnectionRoute | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(requestTimer);
      clearTimeout(handshakeTimer);
      socket.off("data", onData);
      socket.off("error", onEnd);
      socket.off("close", onEnd);
      socket.pause();
      if (route instanceof Error) {
        socket.destroy();
        reject(route);
        return;
      }
      if (route.kind === "native") {
        // What the client sent so far, less the dropped ACK: the HTTP/2 session reads it
        // from the socket's buffer first.
        const held = Buffer.concat([...pieces, pending]);
        if (held.length > 0) socket.unshift(held);
      } else if (pending.length > 0) {
        route.pieces.push(...route.rewriter.push(pending));
      }
      resolve(route);
    };

    const decide = () => {
      if (!ackSeen) return;
      if (rewriter.mode === "passthrough") finish({ kind: "native" });
      else if (rewriter.mode === "rewrite" || waitedForRequest) {
        finish({ kind: "rewrite", rewriter, pieces });
      }
    };

    const onData = (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      try {
        if (!prefaceSeen) {
          if (pending.length < PREFACE.length) return;
          if (!pending.subarray(0, PREFACE.length).equals(PREFACE)) {
            // Not HTTP/2: the server says so in its own way.
            finish({ kind: "native" });
            return;
          }
          pieces.push(...rewriter.push(pending.subarray(0, PREFACE.length)));
          pending = pending.subarray(PREFACE.length);
          prefaceSeen = true;
        }
        while (pending.length >= FRAME_HEADER_BYTES) {
          const total = FRAME_HEADER_BYTES + pending.readUIntBE(0, 3);
          if (pending.length < total) break;
          const frame = pending.subarray(0, total);
          pending = pending.subarray(total);
          const type = frame[3];
          const flags = frame[4] ?? 0;
          if (!ackSeen && type === TYPE_SETTINGS && (flags & FLAG_ACK) !== 0) {
            ackSeen = true;
            continue;
          }
          pieces.push(...rewriter.push(frame));
          if (ackSeen && rewriter.mode !== "undecided") break;
        }
      } catch (err) {
        finish(err instanceof HeaderRewriteError ? err : new HeaderRewriteError(String(err)));
        return;
      }
      decide();
    };
    const onEnd = () => finish(new Error("the client left before its first request"));

    const requestTimer = setTimeout(() => {
      waitedForRequest = true;
      decide();
    }, firstRequestWaitMs);
    const handshakeTimer = setTimeout(
      () => finish(new Error("no HTTP/2 preface and SETTINGS ACK in time")),
      handshakeTimeoutMs,
    );
    socket.on("data", onData);
    socket.on("error", onEnd);
    socket.on("close", onEnd);
    socket.write(EMPTY_SETTINGS);
  });
}
