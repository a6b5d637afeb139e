import { readFileSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { createWebSocketStream, WebSocketServer } from "ws";
import { messageOf } from "../errors.ts";
import { nodeHttp } from "../util/node-http.ts";
import { runAttachSession } from "./attach-session.ts";
import { parseBindAddress, urlHost } from "./bind-address.ts";
import type { CommandOutcome } from "./command-status.ts";
import { runExecSession } from "./exec-session.ts";
import { hostDialer, NetnsDialer } from "./netns-dialer.ts";
import { PORT_FORWARD_PROTOCOL, servePortForward } from "./port-forward-session.ts";
import type { RemoteCommandStreams, StreamFlags } from "./remote-command.ts";
import { acceptSpdyRemoteCommand, SPDY_REMOTE_COMMAND_PROTOCOLS } from "./remote-command-spdy.ts";
import {
  acceptWebSocketRemoteCommand,
  closeWebSocket,
  pickWebSocketProtocol,
} from "./remote-command-websocket.ts";
import { RequestCache } from "./request-cache.ts";
import { SpdyConnection } from "./spdy-connection.ts";
import type { StreamingEngine } from "./streaming-engine.ts";

/** A streaming request as the RPC validated it, cached under its token. */
export type StreamingRequest =
  | { kind: "exec"; containerId: string; cmd: string[]; flags: StreamFlags }
  | {
      kind: "attach";
      containerId: string;
      flags: StreamFlags;
      containerTty: boolean;
      containerStdin: boolean;
    }
  | { kind: "portforward"; sandboxId: string; netnsPath: string | undefined };

export interface StreamingServerOptions {
  /** `HOST:PORT` or `[IPV6]:PORT`; port 0 for any free port. */
  bindAddress: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string } | undefined;
  docker: StreamingEngine;
  log: Logger;
  /** How long a client has to open a session's streams (upstream: 30 s). */
  streamCreationTimeoutMs?: number;
  /** A SPDY connection with no frame either way for this long is closed (upstream: 4 h). */
  idleTimeoutMs?: number;
  /** How long a URL stays valid unused (upstream: one minute). */
  tokenTtlMs?: number;
  maxInFlight?: number;
  /** A connection that has not sent its upgrade request within this long is dropped. */
  handshakeTimeoutMs?: number;
  /** Upgraded connections at once; past it an upgrade is answered 503. */
  maxSessions?: number;
}

export const DEFAULT_STREAM_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_STREAM_SESSIONS = 1000;
/**
 * A WebSocket message from a client: stdin chunks and tunnelled SPDY frames are tens of KiB
 * (client-go copies 32 KiB at a time); a larger one ends that session only.
 */
export const MAX_WEBSOCKET_MESSAGE = 2 << 20;

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)\/?$/;
const WEBSOCKET_PORT_FORWARD_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;

interface Session {
  /** Ends the session now: the client is cut off, an exec'd process killed. */
  abort(): void;
  done: Promise<void>;
}

/**
 * The HTTP(S) server the Exec, Attach and PortForward URLs point at. Each URL carries a
 * single-use token; the connection upgrades to SPDY/3.1 (kubelet, critest, crictl's default)
 * or WebSocket (crictl --transport websocket) and the session runs against Docker.
 */
export class StreamingServer {
  readonly #server: Server;
  readonly #options: StreamingServerOptions;
  readonly #log: Logger;
  readonly #cache: RequestCache<StreamingRequest>;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<Session>();
  readonly #wsProtocol = new WeakMap<IncomingMessage, string>();
  readonly #upgradeSockets = new Set<Duplex>();
  readonly #handshakeTimers = new WeakMap<Duplex, NodeJS.Timeout>();
  #baseUrl = "";
  #stopping = false;

  private constructor(options: StreamingServerOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: "streaming" });
    this.#cache = new RequestCache({ ttlMs: options.tokenTtlMs, maxInFlight: options.maxInFlight });
    this.#server = options.tls
      ? createHttpsServer({
          cert: readFileSync(options.tls.certFile),
          key: readFileSync(options.tls.keyFile),
          handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_STREAM_HANDSHAKE_TIMEOUT_MS,
        })
      : nodeHttp.createServer();
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_WEBSOCKET_MESSAGE,
      handleProtocols: (_offered, req) => this.#wsProtocol.get(req) ?? false,
    });
    // ws refuses "/" in subprotocol names, so the tunnel's name is taken off the request
    // before ws sees it and put on the response here.
    this.#wss.on("headers", (headers, req) => {
      if (this.#wsProtocol.get(req) === WEBSOCKET_PORT_FORWARD_PROTOCOL) {
        headers.push(`Sec-WebSocket-Protocol: ${WEBSOCKET_PORT_FORWARD_PROTOCOL}`);
      }
    });
    this.#server.on("request", (req, res) => {
      const route = ROUTE.exec(new URL(req.url ?? "/", "http://x").pathname);
      if (!route) {
        res.writeHead(404).end("not found\n");
        return;
      }
      // As upstream: the token is spent by any request, upgraded or not.
      this.#cache.consume(route[2] as string);
      res
        .writeHead(400, { "content-type": "text/plain" })
        .end("streaming requires an upgrade to SPDY/3.1 or websocket\n");
    });
    this.#server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#onUpgrade(req, socket, head);
    });
    this.#server.on("clientError", (_err, socket) => socket.destroy());
    // A client that connects and sends nothing (or dribbles its request) holds a socket; Node's
    // own headersTimeout (60 s, checked every 30 s) is too slack for that.
    const handshake = options.handshakeTimeoutMs ?? DEFAULT_STREAM_HANDSHAKE_TIMEOUT_MS;
    const guard = (socket: Duplex) => {
      const timer = setTimeout(() => {
        this.#log.debug("streaming client sent no upgrade in time: dropping it");
        socket.destroy();
      }, handshake);
      timer.unref();
      this.#handshakeTimers.set(socket, timer);
      socket.once("close", () => clearTimeout(timer));
    };
    this.#server.on(options.tls ? "secureConnection" : "connection", guard);
  }

  static async start(options: StreamingServerOptions): Promise<StreamingServer> {
    const server = new StreamingServer(options);
    const { host, port } = parseBindAddress(options.bindAddress);
    await new Promise<void>((resolve, reject) => {
      server.#server.once("error", reject);
      server.#server.listen({ host: host === "" ? undefined : host, port }, () => {
        server.#server.off("error", reject);
        resolve();
      });
    });
    const address = server.#server.address() as AddressInfo;
    const scheme = options.tls ? "https" : "http";
    server.#baseUrl = `${scheme}://${urlHost(address.address)}:${address.port}/`;
    server.#log.info({ url: server.#baseUrl }, "streaming server listening");
    return server;
  }

  /** Where the URLs point, e.g. `http://127.0.0.1:41234/`. */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  /** Sessions running now (for tests and diagnostics). */
  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Caches a validated request and returns the absolute URL the client connects to. */
  requestUrl(request: StreamingRequest): string {
    const token = this.#cache.insert(request);
    return `${this.#baseUrl}${request.kind}/${token}`;
  }

  /** Stops listening, ends every session (killing exec'd processes) and waits for them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    const sessions = [...this.#sessions];
    for (const session of sessions) session.abort();
    await Promise.all(sessions.map((s) => s.done));
    for (const socket of this.#upgradeSockets) socket.destroy();
    await closed;
  }

  // ---- upgrade dispatch -------------------------------------------------------------------

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", (err) => this.#log.debug({ err: err.message }, "streaming socket error"));
    clearTimeout(this.#handshakeTimers.get(socket));
    if (this.#stopping) {
      rejectUpgrade(socket, 503, "shutting down");
      return;
    }
    // Checked before the token is spent, so the client may retry the same URL while it lasts.
    const max = this.#options.maxSessions ?? DEFAULT_MAX_STREAM_SESSIONS;
    if (this.#upgradeSockets.size >= max) {
      this.#log.warn({ max }, "streaming session refused: too many sessions");
      rejectUpgrade(
        socket,
        503,
        `too many streaming sessions (limit ${max}, --max-stream-sessions); retry later`,
        ["Retry-After: 1"],
      );
      return;
    }
    const route = ROUTE.exec(new URL(req.url ?? "/", "http://x").pathname);
    if (!route) {
      rejectUpgrade(socket, 404, "not found");
      return;
    }
    if (req.method !== "GET" && req.method !== "POST") {
      rejectUpgrade(socket, 405, "method not allowed");
      return;
    }
    const request = this.#cache.consume(route[2] as string);
    if (!request || request.kind !== route[1]) {
      rejectUpgrade(socket, 404, "unknown, used or expired token");
      return;
    }
    const upgrade = (req.headers.upgrade ?? "").toLowerCase();
    if (upgrade === "websocket") this.#onWebSocket(req, socket, head, request);
    else if (upgrade.split(",").some((p) => p.trim() === "spdy/3.1")) {
      this.#onSpdy(req, socket, head, request);
    } else rejectUpgrade(socket, 400, `unsupported upgrade ${JSON.stringify(upgrade)}`);
  }

  #onSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, request: StreamingRequest): void {
    const connection = (req.headers.connection ?? "").toLowerCase();
    if (!connection.split(",").some((t) => t.trim() === "upgrade")) {
      rejectUpgrade(socket, 400, "Connection header must include upgrade");
      return;
    }
    const supported =
      request.kind === "portforward" ? [PORT_FORWARD_PROTOCOL] : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const negotiation = negotiateStreamProtocol(
      req.headers["x-stream-protocol-version"],
      supported,
    );
    if (!negotiation.ok) {
      rejectUpgrade(socket, negotiation.status, negotiation.message, negotiation.headers);
      return;
    }
    const protocol = negotiation.protocol;
    this.#upgradeSockets.add(socket);
    socket.once("close", () => this.#upgradeSockets.delete(socket));
    // Nothing follows the 101 until the client's first frame: a Go client reads the 101
    // through a buffer it then drops, so early bytes would be lost.
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
        `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
    );
    (socket as Socket).setNoDelay?.(true);
    const log = this.#log.child({ kind: request.kind, transport: "spdy", protocol });
    const conn = new SpdyConnection(socket, {
      log,
      head,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? 4 * 60 * 60 * 1000,
    });
    if (request.kind === "portforward") {
      this.#track(() => conn.destroy(), this.#runPortForward(conn, request, log));
      return;
    }
    const timeout = this.#options.streamCreationTimeoutMs ?? 30_000;
    this.#track(
      () => conn.destroy(),
      acceptSpdyRemoteCommand(conn, protocol, request.flags, timeout, log).then(
        (io) => this.#runCommand(request, io, log),
        (err: unknown) => log.info({ err: messageOf(err) }, "stream setup failed"),
      ),
    );
  }

  #onWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, request: StreamingRequest) {
    const offered = (req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "");
    let protocol: string | undefined;
    if (request.kind === "portforward") {
      protocol = offered.includes(WEBSOCKET_PORT_FORWARD_PROTOCOL)
        ? WEBSOCKET_PORT_FORWARD_PROTOCOL
        : undefined;
      delete req.headers["sec-websocket-protocol"];
    } else {
      // No subprotocol at all is the original binary channel protocol.
      protocol = offered.length === 0 ? "channel.k8s.io" : pickWebSocketProtocol(offered);
    }
    if (!protocol) {
      rejectUpgrade(socket, 400, `unsupported websocket subprotocols: ${offered.join(", ")}`);
      return;
    }
    if (offered.length > 0) this.#wsProtocol.set(req, protocol);
    const chosen = protocol;
    this.#upgradeSockets.add(socket);
    socket.once("close", () => this.#upgradeSockets.delete(socket));
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const log = this.#log.child({ kind: request.kind, transport: "websocket", protocol: chosen });
      if (request.kind === "portforward") {
        const tunnel = createWebSocketStream(ws);
        tunnel.on("error", () => {});
        const conn = new SpdyConnection(tunnel, {
          log,
          idleTimeoutMs: this.#options.idleTimeoutMs ?? 4 * 60 * 60 * 1000,
        });
        conn.once("close", () => void closeWebSocket(ws, 1000));
        this.#track(() => ws.terminate(), this.#runPortForward(conn, request, log));
        return;
      }
      const io = acceptWebSocketRemoteCommand(ws, chosen, request.flags, log);
      this.#track(() => ws.terminate(), this.#runCommand(request, io, log));
    });
  }

  // ---- sessions -------------------------------------------------------------------------------

  #track(abort: () => void, work: Promise<void>): void {
    const session: Session = {
      abort,
      done: work.catch((err: unknown) => {
        this.#log.warn({ err: messageOf(err) }, "streaming session failed");
      }),
    };
    this.#sessions.add(session);
    void session.done.finally(() => this.#sessions.delete(session));
  }

  async #runCommand(
    request: Extract<StreamingRequest, { kind: "exec" | "attach" }>,
    io: RemoteCommandStreams,
    log: Logger,
  ): Promise<void> {
    let outcome: CommandOutcome;
    if (request.kind === "exec") {
      outcome = await runExecSession(
        this.#options.docker,
        { containerId: request.containerId, cmd: request.cmd, flags: request.flags },
        io,
        log,
      );
    } else {
      outcome = await runAttachSession(this.#options.docker, request, io, log);
    }
    log.debug({ outcome }, "session done");
    await io.finish(outcome);
  }

  async #runPortForward(
    conn: SpdyConnection,
    request: Extract<StreamingRequest, { kind: "portforward" }>,
    log: Logger,
  ): Promise<void> {
    const dialer = request.netnsPath ? new NetnsDialer(request.netnsPath, log) : hostDialer();
    await servePortForward(conn, dialer, {
      streamCreationTimeoutMs: this.#options.streamCreationTimeoutMs ?? 30_000,
      log,
    });
  }
}

export type SpdyNegotiation =
  | { ok: true; protocol: string }
  | { ok: false; status: number; message: string; headers: string[] };

/**
 * X-Stream-Protocol-Version negotiation: the first protocol the client lists that berth
 * speaks. Node joins repeated header lines with ", ", so values are split on commas.
 */
export function negotiateStreamProtocol(
  header: string | string[] | undefined,
  supported: readonly string[],
): SpdyNegotiation {
  const offered = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (offered.length === 0) {
    return {
      ok: false,
      status: 400,
      message: "X-Stream-Protocol-Version is required",
      headers: [],
    };
  }
  const protocol = offered.find((p) => supported.includes(p));
  if (!protocol) {
    return {
      ok: false,
      status: 403,
      message: `none of the offered protocols [${offered.join(", ")}] is supported`,
      headers: supported.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}`),
    };
  }
  return { ok: true, protocol };
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  503: "Service Unavailable",
};

function rejectUpgrade(socket: Duplex, status: number, message: string, headers: string[] = []) {
  const body = `${message}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}`,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    ...headers,
  ];
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
}
