import { readFileSync } from "node:fs";
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { recordDockerRequest } from "../metrics/record.ts";
import type { DockerEndpoint } from "./endpoint.ts";
import { dockerErrorFromResponse, dockerErrorFromTransport } from "./errors.ts";

/**
 * Docker's attach and exec-start endpoints answer `101 UPGRADED` and then carry the process's
 * raw streams on the same connection (Docker calls it hijacking). Node's HTTP clients cannot
 * send a body with an upgrade, so this speaks the few lines of HTTP/1.1 itself.
 */
export async function hijack(
  endpoint: DockerEndpoint,
  method: string,
  path: string,
  body: unknown,
  what: string,
  signal?: AbortSignal,
): Promise<{ socket: Socket; head: Buffer }> {
  signal?.throwIfAborted();
  const started = performance.now();
  let recorded = false;
  const record = (outcome: number | "error" | "cancelled") => {
    recorded = true;
    recordDockerRequest(method, path, outcome, (performance.now() - started) / 1000);
  };
  let socket: Socket;
  try {
    socket = await open(endpoint, what);
  } catch (err) {
    record(signal?.aborted ? "cancelled" : "error");
    throw err;
  }
  const onAbort = () => socket.destroy(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const payload = body === undefined ? "" : JSON.stringify(body);
    socket.write(
      `${method} ${path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
    const { statusCode, rest, bodyText } = await readResponseHead(socket, what);
    record(statusCode);
    if (statusCode === 101 || statusCode === 200) return { socket, head: rest };
    socket.destroy();
    throw dockerErrorFromResponse(statusCode, bodyText, what);
  } catch (err) {
    socket.destroy();
    if (!recorded) record(signal?.aborted ? "cancelled" : "error");
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

function open(endpoint: DockerEndpoint, what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    if (endpoint.kind === "unix") {
      socket = connectTcp(endpoint.socketPath);
    } else if (endpoint.tls) {
      const tls = endpoint.tls;
      socket = connectTls({
        host: endpoint.host,
        port: endpoint.port,
        ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
        cert: tls.certFile ? readFileSync(tls.certFile) : undefined,
        key: tls.keyFile ? readFileSync(tls.keyFile) : undefined,
        rejectUnauthorized: tls.verify,
      });
    } else {
      socket = connectTcp(endpoint.port, endpoint.host);
    }
    const ready = endpoint.kind === "tcp" && endpoint.tls ? "secureConnect" : "connect";
    socket.once(ready, () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => reject(dockerErrorFromTransport(err, what)));
  });
}

/** Reads the status line and headers; for errors, also the (small) body. */
function readResponseHead(
  socket: Socket,
  what: string,
): Promise<{ statusCode: number; rest: Buffer; bodyText: string }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const headText = buffered.subarray(0, end).toString("latin1");
      const rest = buffered.subarray(end + 4);
      const statusCode = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
      if (statusCode === 101 || statusCode === 200) {
        cleanup();
        socket.pause();
        resolve({ statusCode, rest, bodyText: "" });
        return;
      }
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1] ?? -1);
      if (length >= 0 && rest.length < length) return;
      cleanup();
      resolve({ statusCode, rest: Buffer.alloc(0), bodyText: rest.toString("utf8") });
    };
    const onEnd = () => {
      cleanup();
      reject(dockerErrorFromTransport(new Error("connection closed before a response"), what));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(dockerErrorFromTransport(err, what));
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onError);
  });
}
