import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { RegistryAuth } from "../docker/types.ts";
import { BerthError } from "../errors.ts";
import { AuthConfigSchema } from "../gen/runtime/v1/api_pb.js";
import { registryAuthOf } from "./registry-auth.ts";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe("registryAuthOf", () => {
  test("undefined when there is no AuthConfig", () => {
    assert.equal(registryAuthOf(undefined), undefined);
  });

  const cases: Array<{
    name: string;
    init: MessageInitShape<typeof AuthConfigSchema>;
    want: RegistryAuth | undefined;
  }> = [
    { name: "an empty AuthConfig → undefined", init: {}, want: undefined },
    {
      name: "username and password",
      init: { username: "alice", password: "s3cret" },
      want: { username: "alice", password: "s3cret" },
    },
    { name: "username alone", init: { username: "alice" }, want: { username: "alice" } },
    {
      name: "auth decoded into username and password",
      init: { auth: b64("alice:s3cret") },
      want: { username: "alice", password: "s3cret" },
    },
    {
      name: "auth whose password contains ':'",
      init: { auth: b64("alice:pa:ss:word") },
      want: { username: "alice", password: "pa:ss:word" },
    },
    {
      name: "auth with UTF-8 credentials",
      init: { auth: b64("jürgen:pässwört") },
      want: { username: "jürgen", password: "pässwört" },
    },
    {
      name: "auth with an empty password",
      init: { auth: b64("alice:") },
      want: { username: "alice" },
    },
    {
      name: "explicit username/password win over auth",
      init: { username: "bob", password: "pw", auth: b64("alice:s3cret") },
      want: { username: "bob", password: "pw" },
    },
    {
      name: "server address",
      init: { serverAddress: "registry.example.com" },
      want: { serveraddress: "registry.example.com" },
    },
    {
      name: "identity token",
      init: { identityToken: "id-token" },
      want: { identitytoken: "id-token" },
    },
    {
      name: "registry token",
      init: { registryToken: "reg-token" },
      want: { registrytoken: "reg-token" },
    },
    {
      name: "everything together",
      init: {
        auth: b64("alice:s3cret"),
        serverAddress: "https://index.docker.io/v1/",
        identityToken: "id",
        registryToken: "reg",
      },
      want: {
        username: "alice",
        password: "s3cret",
        serveraddress: "https://index.docker.io/v1/",
        identitytoken: "id",
        registrytoken: "reg",
      },
    },
  ];
  for (const { name, init, want } of cases) {
    test(name, () => {
      assert.deepEqual(registryAuthOf(create(AuthConfigSchema, init)), want);
    });
  }

  test("never passes the raw auth field through", () => {
    const result = registryAuthOf(create(AuthConfigSchema, { auth: b64("alice:s3cret") }));
    assert.ok(result);
    assert.equal("auth" in result, false);
  });

  const malformed: Array<{ name: string; auth: string }> = [
    { name: "base64 without a ':'", auth: b64("no-colon-here") },
    { name: "not base64 at all", auth: "!!!!" },
  ];
  for (const { name, auth } of malformed) {
    test(`malformed auth (${name}) → InvalidArgument`, () => {
      assert.throws(
        () => registryAuthOf(create(AuthConfigSchema, { auth })),
        (err: unknown) => err instanceof BerthError && err.kind === "InvalidArgument",
      );
    });
  }
});
