import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isErrorKind } from "../errors.ts";
import { RequestCache } from "./request-cache.ts";

describe("RequestCache", () => {
  test("tokens are 8 base64url characters and single-use", () => {
    const cache = new RequestCache<string>();
    const token = cache.insert("exec");
    assert.match(token, /^[A-Za-z0-9_-]{8}$/);
    assert.equal(cache.consume(token), "exec");
    assert.equal(cache.consume(token), undefined, "a replayed token finds nothing");
  });

  test("a token expires after its TTL", () => {
    let now = 1_000;
    const cache = new RequestCache<string>({ ttlMs: 60_000, now: () => now });
    const token = cache.insert("x");
    now += 60_000;
    assert.equal(cache.consume(token), undefined);
  });

  test("refuses more than maxInFlight live tokens, counting only unexpired ones", () => {
    let now = 0;
    const cache = new RequestCache<number>({ maxInFlight: 2, ttlMs: 10, now: () => now });
    cache.insert(1);
    cache.insert(2);
    assert.throws(
      () => cache.insert(3),
      (err) => isErrorKind(err, "ResourceExhausted"),
    );
    now = 10;
    cache.insert(3); // the first two expired and were swept
    assert.equal(cache.size, 1);
  });

  test("a colliding random token is drawn again", () => {
    const draws = [Buffer.alloc(6, 1), Buffer.alloc(6, 1), Buffer.alloc(6, 2)];
    const cache = new RequestCache<string>({ random: () => draws.shift() as Buffer });
    const a = cache.insert("a");
    const b = cache.insert("b");
    assert.notEqual(a, b);
    assert.equal(cache.consume(b), "b");
  });

  test("unknown tokens find nothing", () => {
    assert.equal(new RequestCache<string>().consume("AAAAAAAA"), undefined);
  });
});
