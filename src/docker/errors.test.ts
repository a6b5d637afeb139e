import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BerthError, type ErrorKind } from "../errors.ts";
import {
  DockerError,
  dockerErrorFromResponse,
  dockerErrorFromTransport,
  ignoreNotFound,
  kindOfStatus,
  removedUnlessPresent,
  serverFailure,
} from "./errors.ts";

describe("kindOfStatus", () => {
  const cases: Array<{ status: number; kind: ErrorKind }> = [
    { status: 400, kind: "InvalidArgument" },
    { status: 401, kind: "Unauthenticated" },
    { status: 403, kind: "PermissionDenied" },
    { status: 404, kind: "NotFound" },
    { status: 409, kind: "FailedPrecondition" },
    { status: 500, kind: "Internal" },
    { status: 501, kind: "Unimplemented" },
    { status: 503, kind: "Unavailable" },
    { status: 418, kind: "Internal" },
    { status: 502, kind: "Internal" },
  ];
  for (const { status, kind } of cases) {
    test(`${status} → ${kind}`, () => {
      assert.equal(kindOfStatus(status), kind);
    });
  }
});

describe("dockerErrorFromResponse", () => {
  const cases: Array<{
    name: string;
    status: number;
    body: string;
    message: string;
    kind: ErrorKind;
  }> = [
    {
      name: "engine JSON message",
      status: 404,
      body: '{"message":"No such image: busybox:nope"}',
      message: "inspect image: No such image: busybox:nope",
      kind: "NotFound",
    },
    {
      name: "engine JSON message with trailing newline",
      status: 409,
      body: '{"message":"conflict: unable to remove repository reference"}\n',
      message: "inspect image: conflict: unable to remove repository reference",
      kind: "FailedPrecondition",
    },
    {
      name: "plain text body, trimmed",
      status: 502,
      body: "  Bad Gateway\n",
      message: "inspect image: Bad Gateway",
      kind: "Internal",
    },
    {
      name: "JSON without message kept as text",
      status: 500,
      body: '{"error":"x"}',
      message: 'inspect image: {"error":"x"}',
      kind: "Internal",
    },
    {
      name: "empty body falls back to the status",
      status: 503,
      body: "",
      message: "inspect image: HTTP 503",
      kind: "Unavailable",
    },
    {
      name: "empty JSON message falls back to the status",
      status: 400,
      body: '{"message":""}',
      message: "inspect image: HTTP 400",
      kind: "InvalidArgument",
    },
  ];
  for (const { name, status, body, message, kind } of cases) {
    test(name, () => {
      const err = dockerErrorFromResponse(status, body, "inspect image");
      assert.ok(err instanceof DockerError);
      assert.ok(err instanceof BerthError);
      assert.equal(err.kind, kind);
      assert.equal(err.statusCode, status);
      assert.equal(err.message, message);
      assert.equal(err.name, `DockerError(${kind})`);
    });
  }
});

describe("dockerErrorFromTransport", () => {
  test("is Unavailable, keeps the cause and names what failed", () => {
    const cause = Object.assign(new Error("connect ENOENT /var/run/docker.sock"), {
      code: "ENOENT",
    });
    const err = dockerErrorFromTransport(cause, "ping");
    assert.ok(err instanceof DockerError);
    assert.equal(err.kind, "Unavailable");
    assert.equal(err.statusCode, undefined);
    assert.equal(err.cause, cause);
    assert.equal(
      err.message,
      "ping: Docker Engine unreachable: connect ENOENT /var/run/docker.sock",
    );
  });

  test("accepts a non-Error", () => {
    const err = dockerErrorFromTransport("socket hang up", "list images");
    assert.ok(err instanceof DockerError);
    assert.equal(err.kind, "Unavailable");
    assert.match(err.message, /^list images: Docker Engine unreachable: socket hang up$/);
  });
});

test("ignoreNotFound: not found is success, every other failure passes", async () => {
  await ignoreNotFound(Promise.reject(new DockerError("NotFound", "gone", 404)));
  await ignoreNotFound(Promise.resolve());
  await assert.rejects(
    ignoreNotFound(Promise.reject(new DockerError("FailedPrecondition", "in use", 409))),
    /in use/,
  );
  await assert.rejects(ignoreNotFound(Promise.reject(new Error("boom"))), /boom/);
});

describe("removedUnlessPresent", () => {
  const refused = () =>
    Promise.reject(dockerErrorFromResponse(500, '{"message":"unrecognized image ID x"}', "rm"));

  test("a refused removal of an object that is gone afterwards succeeds", async () => {
    await removedUnlessPresent(refused(), async () => false);
  });

  test("a refused removal of an object still there fails with the engine's error", async () => {
    await assert.rejects(
      removedUnlessPresent(refused(), async () => true),
      /unrecognized image ID/,
    );
  });

  test("not found is success without looking again", async () => {
    let looked = false;
    await removedUnlessPresent(
      Promise.reject(dockerErrorFromResponse(404, "{}", "rm")),
      async () => {
        looked = true;
        return true;
      },
    );
    assert.equal(looked, false);
  });

  test("an unreachable engine is not taken for a finished removal", async () => {
    await assert.rejects(
      removedUnlessPresent(
        Promise.reject(dockerErrorFromTransport(new Error("ECONNREFUSED"), "rm")),
        async () => false,
      ),
      /unreachable/,
    );
  });
});

describe("serverFailure: a 5xx of an engine going down is Unavailable", () => {
  const answered = (status: number) =>
    dockerErrorFromResponse(status, '{"message":"transport is closing: unavailable"}', "start");
  const working = { answersNewConnection: true, wentAwayMeanwhile: false };
  const stopping = { answersNewConnection: false, wentAwayMeanwhile: false };
  const restarted = { answersNewConnection: true, wentAwayMeanwhile: true };
  const cases: Array<{
    name: string;
    status: number;
    liveness: typeof working;
    kind: ErrorKind;
    why?: RegExp;
  }> = [
    { name: "a 500 of a working engine", status: 500, liveness: working, kind: "Internal" },
    {
      name: "a 500, and then no new connection answered",
      status: 500,
      liveness: stopping,
      kind: "Unavailable",
      why: /\(and then Docker Engine stopped answering new connections: it is going down or restarting\)$/,
    },
    {
      name: "a 500 answered across an outage seen meanwhile",
      status: 500,
      liveness: restarted,
      kind: "Unavailable",
      why: /\(and Docker Engine went away while it ran: it restarted meanwhile\)$/,
    },
    { name: "a 502 of a stopping engine", status: 502, liveness: stopping, kind: "Unavailable" },
    { name: "a 404 of a stopping engine", status: 404, liveness: stopping, kind: "NotFound" },
    {
      name: "a 409 across an outage",
      status: 409,
      liveness: restarted,
      kind: "FailedPrecondition",
    },
    { name: "a 501 of a stopping engine", status: 501, liveness: stopping, kind: "Unimplemented" },
  ];
  for (const { name, status, liveness, kind, why } of cases) {
    test(`${name} → ${kind}`, () => {
      const failure = answered(status);
      const mapped = serverFailure(failure, liveness);
      assert.equal(mapped.kind, kind);
      assert.equal(mapped.statusCode, status, "the engine's status is kept");
      assert.ok(mapped.message.startsWith("start: transport is closing"), mapped.message);
      if (why) assert.match(mapped.message, why);
      if (kind === failure.kind) assert.equal(mapped, failure, "passed on unchanged");
      else assert.equal(mapped.cause, failure);
    });
  }
});
