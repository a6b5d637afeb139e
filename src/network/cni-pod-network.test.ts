import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { isErrorKind } from "../errors.ts";
import type { CniNetworkList } from "./cni-config.ts";
import { CniPodNetwork } from "./cni-pod-network.ts";
import type { PodAttachment } from "./pod-network.ts";

const log = pino({ level: "silent" });

describe("CniPodNetwork's prepare hook", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-pod-network-test-"));
    const config = { cniVersion: "1.0.0", name: "net", plugins: [{ type: "bridge" }] };
    await writeFile(join(root, "10-net.conflist"), JSON.stringify(config));
  });
  after(() => rm(root, { recursive: true, force: true }));

  // A namespace that does not exist: every ADD stops right after the hook.
  const pod: PodAttachment = {
    sandboxId: "a".repeat(64),
    netnsPath: "/nonexistent/netns",
    podName: "p",
    podNamespace: "ns",
    podUid: "u",
    portMappings: [],
    dns: undefined,
    bandwidth: undefined,
  };
  const signal = new AbortController().signal;

  test("runs once per loaded config before the first ADD; a failure is retried by the next", async () => {
    const seen: string[] = [];
    let fail = true;
    const network = new CniPodNetwork(
      root,
      ["/nonexistent"],
      join(root, "cache"),
      log,
      undefined,
      async (n: CniNetworkList) => {
        seen.push(n.name);
        if (fail) throw new Error("iptables-restore: not found");
      },
    );
    try {
      await assert.rejects(network.attach(pod, signal), (err: Error) => {
        assert.ok(isErrorKind(err, "FailedPrecondition"));
        assert.match(
          err.message,
          /cannot set up the host for CNI network net: iptables-restore: not found/,
        );
        return true;
      });
      fail = false;
      await assert.rejects(network.attach(pod, signal), /network namespace .* does not exist/);
      await assert.rejects(network.attach(pod, signal), /network namespace .* does not exist/);
      assert.deepEqual(seen, ["net", "net"], "the failed try, then one success for both ADDs");
      network.invalidate();
      await assert.rejects(network.attach(pod, signal), /does not exist/);
      assert.equal(seen.length, 3, "a reloaded config is prepared again");
    } finally {
      network.close();
    }
  });
});

describe("CniPodNetwork's periodic re-read", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-pod-network-reread-"));
    await mkdir(join(root, "bin"));
    await mkdir(join(root, "conf"));
    // A plugin that counts the VERSION questions it is asked.
    await writeFile(
      join(root, "bin", "bridge"),
      `#!/bin/sh\necho "$CNI_COMMAND" >> ${join(root, "calls")}\necho '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'\n`,
      { mode: 0o755 },
    );
    const config = { cniVersion: "1.0.0", name: "net", plugins: [{ type: "bridge" }] };
    await writeFile(join(root, "conf", "10-net.conflist"), JSON.stringify(config));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("an unchanged config keeps its network: the plugins are not asked VERSION again", async (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
    const network = new CniPodNetwork(
      join(root, "conf"),
      [join(root, "bin")],
      join(root, "cache"),
      log,
    );
    try {
      for (let i = 0; i < 4; i++) {
        assert.deepEqual(await network.status(), { ready: true, network: "net" });
        t.mock.timers.tick(11_000);
      }
      const calls = (await readFile(join(root, "calls"), "utf8")).trim().split("\n");
      assert.deepEqual(calls, ["VERSION"], "asked once, over four re-reads");
      network.invalidate();
      await network.status();
      const after = (await readFile(join(root, "calls"), "utf8")).trim().split("\n");
      assert.equal(after.length, 2, "a changed directory (invalidate) asks again");
    } finally {
      network.close();
    }
  });
});
