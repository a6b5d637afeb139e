import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BoundedOutput } from "./exec-sync.ts";
import { expectedStreamTypes, SPDY_REMOTE_COMMAND_PROTOCOLS } from "./remote-command-spdy.ts";
import {
  decodeChannelMessage,
  encodeChannelMessage,
  pickWebSocketProtocol,
} from "./remote-command-websocket.ts";
import { negotiateStreamProtocol } from "./streaming-server.ts";

describe("SPDY subprotocol negotiation", () => {
  test("takes the client's first supported protocol: v4 when client-go offers v5 first", () => {
    const offered = "v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, channel.k8s.io";
    assert.deepEqual(negotiateStreamProtocol(offered, SPDY_REMOTE_COMMAND_PROTOCOLS), {
      ok: true,
      protocol: "v4.channel.k8s.io",
    });
  });

  test("no header is 400; no overlap is 403 listing what berth accepts", () => {
    const none = negotiateStreamProtocol(undefined, ["portforward.k8s.io"]);
    assert.equal(none.ok === false && none.status, 400);
    const wrong = negotiateStreamProtocol("v4.channel.k8s.io", ["portforward.k8s.io"]);
    assert.ok(!wrong.ok);
    assert.equal(wrong.status, 403);
    assert.deepEqual(wrong.headers, ["X-Accepted-Stream-Protocol-Versions: portforward.k8s.io"]);
  });
});

describe("remotecommand stream sets", () => {
  test("are counted from the request as upstream counts them", () => {
    const all = { stdin: true, stdout: true, stderr: true, tty: false };
    assert.deepEqual(expectedStreamTypes("v4.channel.k8s.io", all), [
      "error",
      "stdin",
      "stdout",
      "stderr",
    ]);
    const tty = { stdin: true, stdout: true, stderr: false, tty: true };
    assert.deepEqual(expectedStreamTypes("v4.channel.k8s.io", tty), [
      "error",
      "stdin",
      "stdout",
      "resize",
    ]);
    assert.deepEqual(expectedStreamTypes("v2.channel.k8s.io", tty), ["error", "stdin", "stdout"]);
  });
});

describe("websocket channel messages", () => {
  test("binary protocols prefix the channel byte", () => {
    const message = encodeChannelMessage("v5.channel.k8s.io", 1, Buffer.from("hi"));
    assert.deepEqual(message, Buffer.from([1, 104, 105]));
    assert.deepEqual(decodeChannelMessage("v5.channel.k8s.io", Buffer.from([0, 65]), true), {
      channel: 0,
      data: Buffer.from("A"),
    });
  });

  test("base64 protocols send text: the channel digit, then padded base64", () => {
    assert.equal(encodeChannelMessage("v4.base64.channel.k8s.io", 2, Buffer.from("a")), "2YQ==");
    assert.deepEqual(
      decodeChannelMessage("base64.channel.k8s.io", Buffer.from("0aGk="), false)?.data,
      Buffer.from("hi"),
    );
  });

  test("a text message on a binary protocol is refused", () => {
    assert.equal(decodeChannelMessage("v5.channel.k8s.io", Buffer.from("0abc"), false), undefined);
  });

  test("the answered subprotocol is one the client offered", () => {
    assert.equal(pickWebSocketProtocol(["foo", "v4.channel.k8s.io"]), "v4.channel.k8s.io");
    assert.equal(pickWebSocketProtocol(["SPDY/3.1+portforward.k8s.io"]), undefined);
  });
});

describe("ExecSync output bounds", () => {
  test("keeps the first bytes and marks the cut in the output", () => {
    const out = new BoundedOutput(5);
    out.push(Buffer.from("abc"));
    out.push(Buffer.from("defgh"));
    assert.equal(out.truncated, true);
    assert.match(
      out.bytes().toString(),
      /^abcde\n\[berth: output truncated: kept the first 5 bytes, dropped 3\]\n$/,
    );
  });

  test("is untouched when within the bound", () => {
    const out = new BoundedOutput(5);
    out.push(Buffer.from("abcde"));
    assert.equal(out.bytes().toString(), "abcde");
  });
});
