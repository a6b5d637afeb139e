import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { isErrorKind } from "../errors.ts";
import { DockerClient, encodeRegistryAuth } from "./client.ts";
import { DockerError, isNotFound } from "./errors.ts";

/**
 * The client against a tiny HTTP server on a temporary unix socket playing the engine: what
 * goes over the wire (paths, versions, headers) and how answers are classified.
 */

type Route = (request: IncomingMessage, response: ServerResponse, body: string) => void;

let dir: string;
let socketPath: string;
let server: Server;
let client: DockerClient;
/** Every request the "engine" saw: method and URL. */
let seen: string[];
let headersSeen: IncomingMessage["headers"][];
/** What the engine reports in GET /version: undefined for nothing at all. */
let engineApi: string | undefined;
let routes: Map<string, Route>;

const json = (response: ServerResponse, status: number, value: unknown) => {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(value));
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-client-"));
  socketPath = join(dir, "docker.sock");
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      seen.push(`${request.method} ${request.url}`);
      headersSeen.push(request.headers);
      const path = (request.url ?? "").split("?")[0] ?? "";
      // The unversioned GET /version is the negotiation.
      if (path === "/version") {
        json(response, 200, engineApi ? { ApiVersion: engineApi, MinAPIVersion: "1.12" } : {});
        return;
      }
      const route = routes.get(`${request.method} ${path.replace(/^\/v[\d.]+/, "")}`);
      if (route) route(request, response, body);
      else json(response, 404, { message: `page not found: ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  seen = [];
  headersSeen = [];
  engineApi = "1.41";
  routes = new Map();
  client = new DockerClient({ kind: "unix", socketPath });
});
afterEach(() => client.close());

describe("DockerClient: API version", () => {
  test("negotiated once from GET /version's ApiVersion, then in every path", async () => {
    engineApi = "1.43";
    routes.set("GET /version", (_q, r) => json(r, 200, { Version: "24.0.7" }));
    routes.set("GET /info", (_q, r) => json(r, 200, { ServerVersion: "24.0.7" }));
    assert.equal((await client.version()).Version, "24.0.7");
    await client.info();
    assert.deepEqual(seen, ["GET /version", "GET /v1.43/version", "GET /v1.43/info"]);
    assert.equal(await client.apiVersion(), "1.43");
  });

  test("a newer engine is spoken to at berth's newest version", async () => {
    engineApi = "1.99";
    assert.equal(await client.apiVersion(), "1.51");
  });

  test("an engine too old, or not reporting its API, is FAILED_PRECONDITION", async () => {
    engineApi = "1.40";
    await assert.rejects(
      client.apiVersion(),
      (err) => isErrorKind(err, "FailedPrecondition") && /1\.40 is too old/.test(String(err)),
    );
    engineApi = undefined;
    await assert.rejects(
      client.apiVersion(),
      (err) => isErrorKind(err, "FailedPrecondition") && /did not report/.test(String(err)),
    );
  });

  test("a failed negotiation is retried on the next call", async () => {
    engineApi = undefined;
    await assert.rejects(client.apiVersion());
    engineApi = "1.41";
    assert.equal(await client.apiVersion(), "1.41");
    assert.deepEqual(seen, ["GET /version", "GET /version"]);
  });
});

describe("DockerClient: answers and errors", () => {
  test("errors are classified by HTTP status, the engine's message kept", async () => {
    const answers: Array<[number, string, string]> = [
      [400, "InvalidArgument", '{"message":"bad parameter"}'],
      [404, "NotFound", '{"message":"No such container: x"}'],
      [409, "FailedPrecondition", '{"message":"container is not running"}'],
      [500, "Internal", "plain text failure\n"],
      [503, "Unavailable", '{"message":"daemon shutting down"}'],
    ];
    routes.set("GET /_ping", (_q, r) => {
      r.writeHead(200);
      r.end("OK");
    });
    for (const [status, kind, body] of answers) {
      routes.set("POST /containers/x/kill", (_q, r) => {
        r.writeHead(status);
        r.end(body);
      });
      await assert.rejects(client.killContainer("x", "SIGKILL"), (err) => {
        assert.ok(err instanceof DockerError, String(err));
        assert.equal(err.kind, kind);
        assert.equal(err.statusCode, status);
        const text = body.startsWith("{")
          ? (JSON.parse(body) as { message: string }).message
          : body.trim();
        assert.equal(err.message, `kill container x: ${text}`);
        return true;
      });
    }
  });

  test("a 500 from an engine that then stops answering its ping is Unavailable", async () => {
    routes.delete("GET /_ping");
    routes.set("POST /containers/x/start", (_q, r) => {
      r.writeHead(500);
      r.end('{"message":"cannot start a stopped process"}');
    });
    await assert.rejects(client.startContainer("x"), (err) => {
      assert.ok(err instanceof DockerError, String(err));
      assert.equal(err.kind, "Unavailable");
      assert.equal(err.statusCode, 500);
      assert.match(
        err.message,
        /^start container x: cannot start a stopped process \(and then Docker Engine stopped answering/,
      );
      return true;
    });
  });

  test("304 (already started or stopped) is success", async () => {
    routes.set("POST /containers/abc/start", (_q, r) => {
      r.writeHead(304);
      r.end();
    });
    routes.set("POST /containers/abc/stop", (_q, r) => {
      r.writeHead(304);
      r.end();
    });
    await client.startContainer("abc");
    await client.stopContainer("abc", 2.7);
    assert.ok(seen.includes("POST /v1.41/containers/abc/stop?t=2"), seen.join(", "));
  });

  test("findContainer and findImage answer undefined for 404, other failures throw", async () => {
    assert.equal(await client.findContainer("nope"), undefined);
    assert.equal(await client.findImage("busybox:latest"), undefined);
    routes.set("GET /containers/bad/json", (_q, r) => json(r, 500, { message: "boom" }));
    await assert.rejects(client.findContainer("bad"), /inspect container bad: boom/);
  });

  test("ids and refs are escaped into the path; queries and bodies carried", async () => {
    let created: unknown;
    routes.set("POST /containers/create", (_q, r, body) => {
      created = JSON.parse(body);
      json(r, 201, { Id: "c1", Warnings: null });
    });
    routes.set("GET /images/registry%3A5000%2Fapp%3A1/json", (_q, r) => json(r, 200, { Id: "i" }));
    routes.set("GET /containers/json", (_q, r) => json(r, 200, []));
    routes.set("DELETE /containers/c1", (_q, r) => {
      r.writeHead(204);
      r.end();
    });
    assert.deepEqual(await client.createContainer("k8s_POD_x", { Image: "pause" }), {
      Id: "c1",
      Warnings: null,
    });
    assert.deepEqual(created, { Image: "pause" });
    await client.inspectImage("registry:5000/app:1");
    await client.listContainers({ label: ["a=b"] });
    await client.removeContainer("c1");
    assert.deepEqual(seen.slice(1), [
      "POST /v1.41/containers/create?name=k8s_POD_x",
      "GET /v1.41/images/registry%3A5000%2Fapp%3A1/json",
      `GET /v1.41/containers/json?all=true&filters=${encodeURIComponent('{"label":["a=b"]}')}`,
      "DELETE /v1.41/containers/c1?force=true&v=true",
    ]);
  });

  test("pull credentials go in X-Registry-Auth as padded base64url JSON", async () => {
    routes.set("POST /images/create", (_q, r) => {
      r.writeHead(200);
      r.end('{"status":"done"}\n');
    });
    const auth = { username: "u?>", password: "p" };
    const body = await client.pullImage(
      "registry:5000/app",
      "1",
      auth,
      new AbortController().signal,
    );
    body.resume();
    const header = headersSeen.at(-1)?.["x-registry-auth"];
    assert.equal(header, encodeRegistryAuth(auth));
    assert.doesNotMatch(String(header), /[+/]/);
    assert.deepEqual(JSON.parse(Buffer.from(String(header), "base64url").toString()), auth);
    assert.ok(
      seen.at(-1)?.startsWith("POST /v1.41/images/create?fromImage=registry%3A5000%2Fapp&tag=1"),
    );
  });
});

describe("DockerClient: cancellation and transport", () => {
  test("an aborted signal cancels the request in flight with the signal's reason", async () => {
    let closed = false;
    routes.set("GET /containers/slow/json", (request) => {
      // Never answers: only the client's abort ends this request.
      request.socket.once("close", () => {
        closed = true;
      });
    });
    const controller = new AbortController();
    const call = client.inspectContainer("slow", controller.signal);
    await waitFor(() => seen.includes("GET /v1.41/containers/slow/json"));
    const reason = new DOMException("deadline exceeded", "TimeoutError");
    controller.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    await waitFor(() => closed);
  });

  test("an engine that is not there is UNAVAILABLE, and negotiated again when it is back", async () => {
    const absent = new DockerClient({ kind: "unix", socketPath: join(dir, "absent.sock") });
    try {
      await assert.rejects(absent.apiVersion(), (err) => {
        assert.ok(isErrorKind(err, "Unavailable"), String(err));
        assert.match(String(err), /engine version: Docker Engine unreachable/);
        return !isNotFound(err);
      });
    } finally {
      await absent.close();
    }
    await client.apiVersion();
    routes.set("GET /version", (request) => request.socket.destroy());
    await assert.rejects(client.version(), (err) => isErrorKind(err, "Unavailable"));
    routes.set("GET /version", (_q, r) => json(r, 200, { Version: "x" }));
    await client.version();
    assert.equal(seen.filter((line) => line === "GET /version").length, 2, "renegotiated");
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), "condition never held");
}
