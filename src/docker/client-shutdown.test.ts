import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createListener, type Server as Listener } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { DockerClient } from "./client.ts";
import { DockerError } from "./errors.ts";

/**
 * The client against a fake engine that shuts down as Docker 20.10 does: it closes its
 * listener first (the socket file goes, new connections fail) and keeps answering on the
 * connections already open, failing what it is asked with HTTP 500 and answering pings.
 */

type Route = (request: IncomingMessage, response: ServerResponse) => void;

let dir: string;
let socketPath: string;
let listener: Listener | undefined;
let routes: Map<string, Route>;
/** The paths the engine was asked, unversioned. */
let seen: string[];
let client: DockerClient;

const engine = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    const path = (request.url ?? "").split("?")[0] ?? "";
    seen.push(path.replace(/^\/v[\d.]+/, ""));
    if (path === "/_ping") {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("OK");
      return;
    }
    if (path === "/version") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ApiVersion: "1.41", MinAPIVersion: "1.12" }));
      return;
    }
    const route = routes.get(`${request.method} ${path.replace(/^\/v[\d.]+/, "")}`);
    if (route) {
      route(request, response);
      return;
    }
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ message: "page not found" }));
  });
});

/** The engine's listener only: the HTTP server keeps every connection it already has. */
async function listen(): Promise<void> {
  const opened = createListener((socket) => engine.emit("connection", socket));
  await new Promise<void>((resolve) => opened.listen(socketPath, resolve));
  listener = opened;
}

/**
 * What Docker 20.10 does first when told to stop: no new connections (the socket file is
 * removed at once; close's callback would wait for the open connections to end).
 */
async function stopListening(): Promise<void> {
  listener?.close();
  listener = undefined;
  await new Promise((resolve) => setImmediate(resolve));
}

const fiveHundred = (response: ServerResponse) => {
  response.writeHead(500, { "content-type": "application/json" });
  response.end(JSON.stringify({ message: "transport is closing: unavailable" }));
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-client-shutdown-"));
  socketPath = join(dir, "docker.sock");
});
after(async () => {
  engine.closeAllConnections();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  routes = new Map();
  seen = [];
  await listen();
  client = new DockerClient({ kind: "unix", socketPath });
  // Negotiated, so kept-alive connections exist as they do on a busy node.
  await client.apiVersion();
});
afterEach(async () => {
  await client.close();
  await stopListening();
  engine.closeAllConnections();
});

describe("DockerClient: a 500 of an engine shutting down", () => {
  test("is UNAVAILABLE while the engine takes no new connections; nothing more goes over the open ones", async () => {
    routes.set("POST /containers/x/start", (_q, r) => {
      void stopListening().then(() => fiveHundred(r));
    });
    await assert.rejects(client.startContainer("x"), (err) => {
      assert.ok(err instanceof DockerError, String(err));
      assert.equal(err.kind, "Unavailable");
      assert.equal(err.statusCode, 500);
      assert.match(
        err.message,
        /^start container x: transport is closing: unavailable \(and then Docker Engine stopped answering new connections/,
      );
      return true;
    });
    // The engine would still answer on the connections it has; they are not used again.
    await assert.rejects(
      client.inspectContainer("z"),
      (err) => err instanceof DockerError && err.kind === "Unavailable",
    );
    assert.ok(!seen.includes("/containers/z/json"), "the stopping engine was not asked");
    await listen();
    routes.set("GET /containers/z/json", (_q, r) => {
      r.writeHead(200, { "content-type": "application/json" });
      r.end('{"Id":"z"}');
    });
    assert.equal((await client.inspectContainer("z")).Id, "z", "served again once it is back");
  });

  test("is INTERNAL while the engine takes new connections and nothing went away", async () => {
    routes.set("POST /containers/x/start", (_q, r) => fiveHundred(r));
    await assert.rejects(client.startContainer("x"), (err) => {
      assert.ok(err instanceof DockerError, String(err));
      assert.equal(err.kind, "Internal");
      assert.equal(err.message, "start container x: transport is closing: unavailable");
      return true;
    });
  });

  test("is UNAVAILABLE when the engine went away and came back while the request was in flight", async () => {
    let answer: (() => void) | undefined;
    routes.set("POST /containers/x/start", (_q, r) => {
      answer = () => fiveHundred(r);
    });
    const start = client.startContainer("x");
    while (!answer) await new Promise((resolve) => setTimeout(resolve, 5));
    await stopListening();
    // Another call finds the engine gone (a new connection fails)...
    await assert.rejects(
      client.inspectContainer("y", AbortSignal.timeout(5000)),
      (err) => err instanceof DockerError && err.kind === "Unavailable",
    );
    // ...and the engine is back before the first call's 500 arrives.
    await listen();
    answer();
    await assert.rejects(start, (err) => {
      assert.ok(err instanceof DockerError, String(err));
      assert.equal(err.kind, "Unavailable");
      assert.match(err.message, /\(and Docker Engine went away while it ran/);
      return true;
    });
    // A later 500 of the engine now working is its own failure again.
    routes.set("POST /containers/x/start", (_q, r) => fiveHundred(r));
    await assert.rejects(
      client.startContainer("x"),
      (err) => err instanceof DockerError && err.kind === "Internal",
    );
  });

  test("an answer cut short by the engine going away is UNAVAILABLE", async () => {
    routes.set("GET /containers/x/json", (request, r) => {
      r.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      r.write('{"Id":"x",');
      setTimeout(() => request.socket.destroy(), 10);
    });
    await assert.rejects(client.inspectContainer("x"), (err) => {
      assert.ok(err instanceof DockerError, String(err));
      assert.equal(err.kind, "Unavailable");
      assert.match(err.message, /^inspect container x: Docker Engine unreachable/);
      return true;
    });
  });
});
