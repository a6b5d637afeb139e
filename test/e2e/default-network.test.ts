import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { startBerth } from "../support/berth-process.ts";

interface Conflist {
  name: string;
  plugins: Array<{ type: string; ipam?: { ranges?: Array<Array<{ subnet: string }>> } }>;
}

function subnetsIn(file: string): string[] {
  const config = JSON.parse(readFileSync(file, "utf8")) as Conflist;
  const bridge = config.plugins.find((plugin) => plugin.type === "bridge");
  return (bridge?.ipam?.ranges ?? []).flat().map((range) => range.subnet);
}

describe("berth's default CNI network", () => {
  test("written into an empty config dir from --pod-cidr, rewritten by UpdateRuntimeConfig", async () => {
    const cniDir = mkdtempSync(join(tmpdir(), "berth-default-net-"));
    const berth = await startBerth({
      args: ["--cni-conf-dir", cniDir, "--pod-cidr", "10.55.0.0/24"],
    });
    try {
      const file = join(cniDir, "99-berth.conflist");
      assert.deepEqual(readdirSync(cniDir), ["99-berth.conflist"]);
      assert.deepEqual(subnetsIn(file), ["10.55.0.0/24"]);
      const status = await berth.client.runtime.status({});
      const network = status.status?.conditions.find((c) => c.type === "NetworkReady");
      assert.equal(network?.status, true, network?.message);

      await berth.client.runtime.updateRuntimeConfig({
        runtimeConfig: { networkConfig: { podCidr: "10.56.0.0/24" } },
      });
      assert.deepEqual(subnetsIn(file), ["10.56.0.0/24"]);
    } finally {
      await berth.stop();
      rmSync(dirname(berth.rootDir), { recursive: true, force: true });
      rmSync(cniDir, { recursive: true, force: true });
    }
  });

  test("a user's network config is left alone", async () => {
    const cniDir = mkdtempSync(join(tmpdir(), "berth-user-net-"));
    const user = JSON.stringify({
      cniVersion: "1.0.0",
      name: "users-own",
      plugins: [
        { type: "bridge", bridge: "userbr0", ipam: { type: "host-local", subnet: "10.44.0.0/24" } },
      ],
    });
    writeFileSync(join(cniDir, "10-user.conflist"), user);
    const berth = await startBerth({ args: ["--cni-conf-dir", cniDir] });
    try {
      await berth.client.runtime.updateRuntimeConfig({
        runtimeConfig: { networkConfig: { podCidr: "10.57.0.0/24" } },
      });
      assert.deepEqual(readdirSync(cniDir), ["10-user.conflist"]);
      assert.equal(readFileSync(join(cniDir, "10-user.conflist"), "utf8"), user);
    } finally {
      await berth.stop();
      rmSync(dirname(berth.rootDir), { recursive: true, force: true });
      rmSync(cniDir, { recursive: true, force: true });
    }
  });
});
