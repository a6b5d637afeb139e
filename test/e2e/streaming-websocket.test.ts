import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { WebSocket } from "ws";
import { ExecRequestSchema, PortForwardRequestSchema } from "../../src/gen/runtime/v1/api_pb.js";
import { exec } from "../../src/rpc/runtime/exec.ts";
import { portForward } from "../../src/rpc/runtime/port-forward.ts";
import { type ForwardResult, forwardOnce, httpBody } from "../support/port-forward-client.ts";
import { exitCodeFromStatus } from "../support/remote-command-client.ts";
import { SpdyTestClient } from "../support/spdy-client.ts";
import {
  callContext,
  eventually,
  hostProcesses,
  runInSandbox,
  runSandbox,
  type StreamingFixture,
  startStreaming,
} from "../support/streaming-pods.ts";
import { openTunnel } from "../support/websocket-tunnel.ts";

let fx: StreamingFixture;
let sandbox: string;

before(async () => {
  fx = await startStreaming();
  sandbox = await runSandbox(fx.docker);
});
after(async () => {
  await fx.stop();
});

interface ExecInit {
  cmd: string[];
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
}

async function execUrl(init: ExecInit): Promise<string> {
  const request = create(ExecRequestSchema, { containerId: sandbox, stdout: true, ...init });
  return (await exec(fx.deps)(request, callContext())).url ?? "";
}

interface WsResult {
  channels: Map<number, Buffer[]>;
  closeCode: number;
  protocol: string;
  text(channel: number): string;
}

/**
 * A websocket exec client as crictl's (client-go's v5 websocket executor) behaves: GET with
 * the subprotocol, binary messages, channel byte first; output ends with the close.
 */
async function wsExec(
  url: string,
  protocols: string[],
  drive?: (ws: WebSocket) => void | Promise<void>,
): Promise<WsResult> {
  const ws = new WebSocket(url.replace(/^http/, "ws"), protocols);
  const channels = new Map<number, Buffer[]>();
  const base64 = protocols[0]?.includes("base64") ?? false;
  ws.on("message", (message: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, !base64, "binary protocols send binary, base64 ones text");
    const channel = (message[0] as number) - (base64 ? 48 : 0);
    const data = base64
      ? Buffer.from(message.subarray(1).toString(), "base64")
      : message.subarray(1);
    channels.set(channel, [...(channels.get(channel) ?? []), data]);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const protocol = ws.protocol;
  await drive?.(ws);
  const closeCode = await new Promise<number>((resolve) =>
    ws.once("close", (code) => resolve(code)),
  );
  return {
    channels,
    closeCode,
    protocol,
    text: (channel) => Buffer.concat(channels.get(channel) ?? []).toString(),
  };
}

describe("exec over websocket", () => {
  test("v5.channel.k8s.io: output channels, status on channel 3, close 1000", async () => {
    const url = await execUrl({
      cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"],
      stderr: true,
    });
    const result = await wsExec(url, ["v5.channel.k8s.io"]);
    assert.equal(result.protocol, "v5.channel.k8s.io");
    assert.equal(result.text(1), "out\n");
    assert.equal(result.text(2), "err\n");
    assert.equal(exitCodeFromStatus(result.text(3)), 3);
    assert.equal(result.closeCode, 1000);
  });

  test("v5: stdin data, then the [255, 0] close message as EOF", async () => {
    const url = await execUrl({ cmd: ["sh", "-c", "md5sum"], stdin: true });
    const input = Buffer.alloc(3 << 20, 9);
    const result = await wsExec(url, ["v5.channel.k8s.io"], async (ws) => {
      for (let offset = 0; offset < input.length; offset += 32 << 10) {
        ws.send(Buffer.concat([Buffer.from([0]), input.subarray(offset, offset + (32 << 10))]));
      }
      ws.send(Buffer.from([255, 0]));
    });
    assert.equal(result.text(1).split(" ")[0], createHash("md5").update(input).digest("hex"));
    assert.equal(exitCodeFromStatus(result.text(3)), 0);
  });

  test("v5 with a tty: resize on channel 4 reaches stty", async () => {
    const url = await execUrl({
      cmd: [
        "sh",
        "-c",
        'until [ "$(stty size 2>/dev/null)" = "21 99" ]; do sleep 0.05; done; echo sized',
      ],
      stdin: true,
      tty: true,
    });
    const result = await wsExec(url, ["v5.channel.k8s.io"], (ws) => {
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":99,"Height":21}')]));
    });
    assert.equal(result.text(1), "sized\r\n");
  });

  test("v4.channel.k8s.io is served too", async () => {
    const result = await wsExec(await execUrl({ cmd: ["sh", "-c", "exit 5"] }), [
      "v4.channel.k8s.io",
    ]);
    assert.equal(result.protocol, "v4.channel.k8s.io");
    assert.equal(exitCodeFromStatus(result.text(3)), 5);
  });

  test("v4.base64.channel.k8s.io: text frames, channel digit then base64", async () => {
    const url = await execUrl({ cmd: ["sh", "-c", "cat; echo done"], stdin: true });
    const result = await wsExec(url, ["v4.base64.channel.k8s.io"], (ws) => {
      ws.send(`0${Buffer.from("typed\n").toString("base64")}`);
      // v4 has no stdin close message: the process ends when the client closes.
      setTimeout(() => ws.close(1000), 500);
    });
    assert.equal(result.protocol, "v4.base64.channel.k8s.io");
    assert.match(result.text(1), /^typed\n/);
  });

  test("an offered protocol berth does not speak is refused", async () => {
    const ws = new WebSocket((await execUrl({ cmd: ["true"] })).replace(/^http/, "ws"), [
      "v9.channel.k8s.io",
    ]);
    ws.on("error", () => {});
    const status = await new Promise<number>((resolve) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => resolve(101));
    });
    ws.terminate();
    assert.equal(status, 400);
  });

  test("a websocket client that disappears ends the exec'd process", async () => {
    const marker = ["sleep", "1004"];
    const url = await execUrl({ cmd: ["sh", "-c", `echo started; exec ${marker.join(" ")}`] });
    const ws = new WebSocket(url.replace(/^http/, "ws"), ["v5.channel.k8s.io"]);
    await new Promise<void>((resolve) =>
      ws.on("message", (m: Buffer) => m.subarray(1).toString().includes("started") && resolve()),
    );
    ws.terminate();
    assert.ok(await eventually(() => hostProcesses(marker).length === 0), "process killed");
    assert.ok(await eventually(() => fx.server.activeSessions === 0), "session freed");
  });
});

describe("port-forward over the websocket tunnel (SPDY/3.1+portforward.k8s.io)", () => {
  test("carries a SPDY session in binary messages", async () => {
    await runInSandbox(fx.docker, sandbox, [
      "sh",
      "-c",
      "mkdir -p /www; echo tunnelled > /www/t; exec httpd -f -p 127.0.0.1:8080 -h /www",
    ]);
    const { url } = await portForward(fx.deps)(
      create(PortForwardRequestSchema, { podSandboxId: sandbox }),
      callContext(),
    );
    const tunnel = await openTunnel(
      (url ?? "").replace(/^http/, "ws"),
      "SPDY/3.1+portforward.k8s.io",
    );
    assert.equal(tunnel.protocol, "SPDY/3.1+portforward.k8s.io", "berth echoes the subprotocol");
    const client = new SpdyTestClient(tunnel.stream, undefined);
    let result: ForwardResult = { data: Buffer.alloc(0), error: "not connected" };
    for (let i = 0; i < 50 && result.error !== ""; i++) {
      result = await forwardOnce(client, 8080, i, "GET /t HTTP/1.0\r\n\r\n");
      if (result.error !== "") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(result.error, "");
    assert.equal(httpBody(result.data).toString(), "tunnelled\n");
    await client.ping();
    assert.equal(await tunnel.close(1000), 1000);
    assert.ok(await eventually(() => fx.server.activeSessions === 0), "session freed");
  });
});
