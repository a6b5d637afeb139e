import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { encodeRegistryAuth } from "../../src/docker/client.ts";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { testDocker } from "../support/docker.ts";
import { loadFixtures } from "../support/fixtures.ts";

/**
 * Registry credentials handed to PullImage (the htpasswd registry of the fixtures) must never
 * leave berth again: not in its logs at the most verbose level, not in the errors of pulls
 * that fail, not in its metrics. Each form the secret can take is searched for: the password,
 * base64("user:pass") (AuthConfig.auth, a docker config.json's `auth`), and the X-Registry-Auth
 * value berth sends the engine.
 */
const fx = loadFixtures();
const docker = testDocker();
// An image of the fixtures' registry no other test pulls, so removing its tag races nobody.
const ref = `${fx.authRegistry}/${fx.images.busyboxUser}`;
// A wrong password unique to this run: finding it anywhere can only mean berth leaked it.
const wrongPassword = `wrong-${randomBytes(9).toString("base64url")}`;
let berth: BerthProcess;
let metrics: string;

function forms(username: string, password: string): Record<string, string> {
  const basic = Buffer.from(`${username}:${password}`).toString("base64");
  return {
    password,
    "base64(user:pass)": basic,
    "base64(user:pass) without padding": basic.replace(/=+$/, ""),
    "X-Registry-Auth": encodeRegistryAuth({ username, password }),
    "X-Registry-Auth with server": encodeRegistryAuth({
      username,
      password,
      serveraddress: fx.authRegistry,
    }),
  };
}

function assertNoSecret(where: string, text: string): void {
  for (const [password, kind] of [
    [fx.password, "right"],
    [wrongPassword, "wrong"],
  ] as const) {
    for (const [form, value] of Object.entries(forms(fx.username, password))) {
      assert.ok(!text.includes(value), `${where} holds the ${kind} credentials as ${form}`);
    }
  }
}

async function untag(): Promise<void> {
  // By name: only this registry-prefixed tag goes, the local image it shares an ID with stays.
  if (await docker.findImage(ref)) await docker.removeImage(ref, false);
}

before(async () => {
  await untag();
  // The test flags set debug; the later --log-level wins.
  berth = await startBerth({
    args: ["--metrics-bind-address", "127.0.0.1:0", "--log-level", "trace"],
  });
  metrics = await metricsUrl(berth);
});
after(async () => {
  await untag();
  await berth.stop();
  await docker.close();
});

async function metricsUrl(process: BerthProcess): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const line of process.output().split("\n")) {
      if (!line.includes('"serving metrics"')) continue;
      return `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}/metrics`;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`berth logged no "serving metrics" line:\n${process.output()}`);
}

test("credentials given to PullImage appear in no log line, error or metric", async () => {
  const errors: string[] = [];
  // Wrong credentials, in both shapes the kubelet sends them: the pull fails.
  for (const auth of [
    { username: fx.username, password: wrongPassword, serverAddress: fx.authRegistry },
    { auth: Buffer.from(`${fx.username}:${wrongPassword}`).toString("base64") },
  ]) {
    const err = await berth.client.image.pullImage({ image: { image: ref }, auth }).then(
      () => assert.fail("a pull with a wrong password succeeded"),
      (e: Error & { details?: string }) => e,
    );
    errors.push(`${err.message}\n${err.details ?? ""}`);
  }
  assert.match(errors.join("\n"), /unauthorized|authentication/i);
  // The right ones, both shapes again: the pulls succeed.
  await berth.client.image.pullImage({
    image: { image: ref },
    auth: { username: fx.username, password: fx.password, serverAddress: fx.authRegistry },
  });
  await untag();
  await berth.client.image.pullImage({
    image: { image: ref },
    auth: { auth: Buffer.from(`${fx.username}:${fx.password}`).toString("base64") },
  });
  assert.match(berth.output(), /pulled image/);
  // berth has no trace-only lines: at trace, every debug line is there to search.
  assert.match(berth.output(), /"level":20,/, "berth logs its debug lines");
  const response = await fetch(metrics);
  assert.equal(response.status, 200);
  const scraped = await response.text();
  assert.match(scraped, /berth_/, "the scrape has berth's metrics");

  assertNoSecret("an error answered to the client", errors.join("\n"));
  assertNoSecret("berth's log", berth.output());
  assertNoSecret("/metrics", scraped);
});
