import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBindAddress, urlHost } from "./bind-address.ts";

test("parses IPv4, bracketed IPv6, names and all-interfaces binds", () => {
  assert.deepEqual(parseBindAddress("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseBindAddress("[::1]:10010"), { host: "::1", port: 10010 });
  assert.deepEqual(parseBindAddress("localhost:8080"), { host: "localhost", port: 8080 });
  assert.deepEqual(parseBindAddress(":0"), { host: "", port: 0 });
});

test("refuses what is not HOST:PORT", () => {
  for (const bad of ["127.0.0.1", "::1:80", "[zz]:1", "1.2.3.4:70000", "[::1]"]) {
    assert.throws(() => parseBindAddress(bad), /streaming bind address/, bad);
  }
});

test("URLs name a reachable host: wildcards become loopback, IPv6 is bracketed", () => {
  assert.equal(urlHost("0.0.0.0"), "127.0.0.1");
  assert.equal(urlHost("::"), "[::1]");
  assert.equal(urlHost("::1"), "[::1]");
  assert.equal(urlHost("10.0.0.5"), "10.0.0.5");
});
