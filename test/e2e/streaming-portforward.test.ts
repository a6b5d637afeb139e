import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { isErrorKind } from "../../src/errors.ts";
import { PortForwardRequestSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { portForward } from "../../src/rpc/runtime/port-forward.ts";
import { forwardOnce, httpBody, writeAll } from "../support/port-forward-client.ts";
import { SpdyTestClient } from "../support/spdy-client.ts";
import {
  callContext,
  eventually,
  hostProcesses,
  runContainer,
  runInSandbox,
  runSandbox,
  type StreamingFixture,
  startStreaming,
} from "../support/streaming-pods.ts";

const PROTOCOLS = ["portforward.k8s.io"];
const FILE_SIZE = 8 << 20;
const DIALER_ARGV = [
  process.execPath,
  fileURLToPath(new URL("../../src/streaming/netns-dialer-child.ts", import.meta.url)),
];

let fx: StreamingFixture;
let sandbox: string;

/**
 * The pod: servers bound only to localhost inside its network namespace. httpd on
 * 127.0.0.1:8080 and on [::1]:8081 (IPv6 switched on for the pod, as Docker turns it off),
 * each with an 8 MiB file; a server that speaks first (a banner) on 8082; and one on 8083
 * that answers the MD5 of everything it read once the client half-closes (which the
 * forwarder must pass on as a write shutdown).
 */
before(async () => {
  fx = await startStreaming();
  sandbox = await runContainer(fx.docker, {
    Cmd: ["sleep", "3600"],
    HostConfig: {
      NetworkMode: "none",
      Sysctls: { "net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.lo.disable_ipv6": "0" },
    },
  });
  const setup = [
    "mkdir -p /www",
    `head -c ${FILE_SIZE} /dev/urandom > /www/big`,
    "echo hello-v4 > /www/v4",
    "echo hello-v6 > /www/v6",
    "httpd -p 127.0.0.1:8080 -h /www",
    "httpd -p [::1]:8081 -h /www",
    "nc -ll -p 8082 -e echo banner-first &",
    "nc -ll -p 8083 -e md5sum &",
    "touch /tmp/ready",
    "exec sleep 3600",
  ].join("\n");
  const app = await runInSandbox(fx.docker, sandbox, ["sh", "-c", setup]);
  const ready = await eventually(async () => {
    const r = await fx.docker.findContainer(app).catch(() => undefined);
    if (!r?.State.Running) return false;
    const probe = await connect();
    const result = await forwardOnce(probe, 8080, 0, "GET /v4 HTTP/1.0\r\n\r\n").catch(
      () => undefined,
    );
    await probe.close();
    return result?.error === "" && httpBody(result.data).toString() === "hello-v4\n";
  }, 20_000);
  assert.ok(ready, "pod servers up");
});
after(async () => {
  await fx.stop();
});

async function forwardUrl(sandboxId = sandbox): Promise<string> {
  const response = await portForward(fx.deps)(
    create(PortForwardRequestSchema, { podSandboxId: sandboxId }),
    callContext(),
  );
  return response.url ?? "";
}

async function connect(sandboxId = sandbox): Promise<SpdyTestClient> {
  return SpdyTestClient.connect(await forwardUrl(sandboxId), PROTOCOLS);
}

describe("port-forward over SPDY", () => {
  test("reaches a server bound to 127.0.0.1 inside the pod", async () => {
    const client = await connect();
    assert.equal(client.protocol, "portforward.k8s.io");
    const result = await forwardOnce(client, 8080, 0, "GET /v4 HTTP/1.0\r\n\r\n");
    assert.equal(result.error, "");
    assert.equal(httpBody(result.data).toString(), "hello-v4\n");
    await client.close();
  });

  test("reaches a server bound to ::1 inside the pod", async () => {
    const client = await connect();
    const result = await forwardOnce(client, 8081, 0, "GET /v6 HTTP/1.0\r\n\r\n");
    assert.equal(result.error, "");
    assert.equal(httpBody(result.data).toString(), "hello-v6\n");
    await client.close();
  });

  test("loses nothing a server sends before the client speaks", async () => {
    const client = await connect();
    const result = await forwardOnce(client, 8082, 0, "");
    assert.equal(result.data.toString(), "banner-first\n");
    await client.close();
  });

  test("a pod server that closes first ends the data and error streams, client still open", async () => {
    // curl through crictl port-forward: the request is written but the client never FINs;
    // the pod's HTTP/1.0 server answers and closes. client-go then waits for data EOF and
    // error EOF: both must come without the client ending its side first.
    const client = await connect();
    const headers = { port: "8080", requestid: "7" };
    const error = await client.openStream({ streamtype: "error", ...headers });
    await error.end();
    const data = await client.openStream({ streamtype: "data", ...headers });
    await data.write("GET /v4 HTTP/1.0\r\n\r\n");
    const ended = Promise.all([data.ended, error.ended]);
    const outcome = await Promise.race([
      ended.then(() => "ended"),
      new Promise((resolve) => setTimeout(() => resolve("stuck"), 5000)),
    ]);
    assert.equal(outcome, "ended", "both streams reached EOF");
    assert.equal(httpBody(Buffer.concat(data.chunks)).toString(), "hello-v4\n");
    assert.equal(error.text(), "");
    data.reset();
    await client.close();
  });

  test("carries several MiB down and up (no 64 KiB window stall)", async () => {
    const client = await connect();
    const hash = createHash("sha256");
    let started = process.hrtime.bigint();
    const down = await forwardOnce(client, 8080, 0, "GET /big HTTP/1.0\r\n\r\n", {
      onData: (d) => hash.update(d),
    });
    const downSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const body = httpBody(down.data);
    assert.equal(body.length, FILE_SIZE);
    // Again on the now warm session (the pod-side dialer is up): the transfer alone.
    started = process.hrtime.bigint();
    const inPod = await forwardOnce(client, 8080, 1, "GET /big HTTP/1.0\r\n\r\n");
    const warmSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.ok(httpBody(inPod.data).equals(body), "the same file twice");

    const upload = randomBytes(FILE_SIZE);
    started = process.hrtime.bigint();
    const up = await forwardOnce(client, 8083, 2, upload);
    const upSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(up.data.toString().split(" ")[0], createHash("md5").update(upload).digest("hex"));
    const mib = FILE_SIZE / (1 << 20);
    console.log(
      `# port-forward ${mib} MiB: ${(mib / downSeconds).toFixed(1)} MiB/s down (first, with dialer start), ` +
        `${(mib / warmSeconds).toFixed(1)} MiB/s down (warm), ${(mib / upSeconds).toFixed(1)} MiB/s up`,
    );
    await client.close();
  });

  test("serves many connections on one session, concurrently", async () => {
    const client = await connect();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        forwardOnce(client, i % 2 ? 8081 : 8080, i, `GET /${i % 2 ? "v6" : "v4"} HTTP/1.0\r\n\r\n`),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.error, "");
      assert.equal(httpBody(r.data).toString(), i % 2 ? "hello-v6\n" : "hello-v4\n");
    });
    await client.ping(); // the session is still healthy
    await client.close();
  });

  test("a port nobody listens on is reported on the error stream", async () => {
    const client = await connect();
    const result = await forwardOnce(client, 9999, 0, "x");
    assert.match(result.error, /9999.*ECONNREFUSED/);
    await client.close();
  });

  test("an invalid port header is reported on the error stream", async () => {
    const client = await connect();
    const result = await forwardOnce(client, 0, 0, "x");
    assert.match(result.error, /invalid port/);
    await client.close();
  });

  test("a client killed mid-transfer frees the session and the pod-side dialer", async () => {
    const before = hostProcesses(DIALER_ARGV).length;
    const client = await connect();
    const headers = { port: "8080", requestid: "0" };
    const error = await client.openStream({ streamtype: "error", ...headers });
    await error.end();
    const data = await client.openStream({ streamtype: "data", ...headers });
    data.keepData = false;
    await writeAll(data, Buffer.from("GET /big HTTP/1.0\r\n\r\n"));
    await new Promise<void>((resolve) => data.once("data", () => resolve()));
    assert.equal(hostProcesses(DIALER_ARGV).length, before + 1, "one dialer per session");
    client.destroy();
    assert.ok(await eventually(() => fx.server.activeSessions === 0), "session freed");
    assert.ok(await eventually(() => hostProcesses(DIALER_ARGV).length === before), "dialer gone");
  });

  test("a SPDY client offering only remotecommand protocols is refused with 403", async () => {
    await assert.rejects(
      SpdyTestClient.connect(await forwardUrl(), ["v4.channel.k8s.io"]),
      (err: Error & { response?: { status: number } }) => err.response?.status === 403,
    );
  });
});

describe("port-forward into a host-network pod", () => {
  let hostServer: Server;
  let hostPort: number;
  before(async () => {
    hostServer = createServer((socket) => socket.end("from-the-host\n"));
    await new Promise<void>((resolve) => hostServer.listen(0, "127.0.0.1", resolve));
    hostPort = (hostServer.address() as { port: number }).port;
  });
  after(() => hostServer.close());

  test("connects on the host's own loopback", async () => {
    const hostSandbox = await runSandbox(fx.docker, true);
    const client = await connect(hostSandbox);
    const result = await forwardOnce(client, hostPort, 0, "");
    assert.equal(result.data.toString(), "from-the-host\n");
    await client.close();
  });
});

describe("PortForward RPC", () => {
  test("an unknown sandbox is NOT_FOUND, a stopped one FAILED_PRECONDITION", async () => {
    await assert.rejects(forwardUrl("e".repeat(64)), (e) => isErrorKind(e, "NotFound"));
    const stopped = await runContainer(fx.docker, {
      Cmd: ["true"],
      HostConfig: { NetworkMode: "none" },
    });
    await eventually(async () => !(await fx.lookup.sandbox(stopped))?.ready);
    await assert.rejects(forwardUrl(stopped), (e) => isErrorKind(e, "FailedPrecondition"));
    await assert.rejects(forwardUrl(""), (e) => isErrorKind(e, "InvalidArgument"));
  });
});
