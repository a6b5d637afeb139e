import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
