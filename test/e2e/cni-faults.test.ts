/**
 * CNI plugins that hang, fail DEL or write garbage, chained after the real bridge plugin
 * (Debian's, with host-local) on a network of this test's own (berth-faults, bridge
 * berthflt0, 10.79.0.0/24). The broken plugins are small scripts the test writes into a plugin
 * directory of its own, searched before /usr/lib/cni.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { testDocker } from "../support/docker.ts";
import { expectCode } from "../support/grpc.ts";
import { podConfig } from "../support/pods.ts";

const NETWORK = "berth-faults";
const BRIDGE = "berthflt0";
const SUBNET = "10.79.0.0/24";
const TEST_LABEL = { "berth.test": "cni-faults" };
/** Short, so the hang costs the suite little; the default is 1m0s. */
const PLUGIN_TIMEOUT = "2s";

const docker = testDocker();
const dir = mkdtempSync(join(tmpdir(), "berth-cni-faults-"));
const pluginDir = join(dir, "bin");
const marker = join(dir, "refuse-del");
const delLog = join(dir, "del.log");
const hangPids = join(dir, "hang.pids");
mkdirSync(pluginDir);

/** A chained plugin: ADD passes the previous result on, DEL refuses while `marker` exists. */
writePlugin(
  "berth-flaky-del",
  `#!${process.execPath}
const fs = require("node:fs");
const conf = JSON.parse(fs.readFileSync(0, "utf8") || "{}");
const command = process.env.CNI_COMMAND;
if (command === "VERSION") {
  console.log(JSON.stringify({ cniVersion: "1.0.0", supportedVersions: ["0.4.0", "1.0.0"] }));
} else if (command === "ADD") {
  console.log(JSON.stringify({ ...conf.prevResult, cniVersion: conf.cniVersion }));
} else if (command === "DEL") {
  fs.appendFileSync(${JSON.stringify(delLog)}, process.env.CNI_CONTAINERID + "\\n");
  if (fs.existsSync(${JSON.stringify(marker)})) {
    console.log(JSON.stringify({ cniVersion: conf.cniVersion, code: 100, msg: "refusing DEL for the test" }));
    process.exit(1);
  }
}
`,
);

/** ADD never returns (nor does the child it waits for); everything else succeeds. */
writePlugin(
  "berth-hang",
  `#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD)
  sleep 3600 &
  echo "$$ $!" >>${JSON.stringify(hangPids)}
  wait
  ;;
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
esac
exit 0
`,
);

/** Exits 0 with something that is not JSON on stdout. */
writePlugin(
  "berth-garbage",
  `#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD) echo 'Segmentation fault? {"cniVersion": oops' ;;
esac
exit 0
`,
);

function writePlugin(name: string, text: string): void {
  const path = join(pluginDir, name);
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/** A conf dir holding the bridge plugin followed by `chained`. */
function networkWith(chained: string): string {
  const confDir = mkdtempSync(join(dir, "conf-"));
  writeFileSync(
    join(confDir, "10-berth-faults.conflist"),
    JSON.stringify({
      cniVersion: "1.0.0",
      name: NETWORK,
      plugins: [
        {
          type: "bridge",
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          ipam: { type: "host-local", ranges: [[{ subnet: SUBNET }]] },
        },
        { type: chained },
      ],
    }),
  );
  return confDir;
}

function reservations(): string[] {
  const path = `/var/lib/cni/networks/${NETWORK}`;
  return existsSync(path) ? readdirSync(path).filter((name) => name.startsWith("10.")) : [];
}

function bridgePorts(): string[] {
  try {
    const links = JSON.parse(
      execFileSync("ip", ["-j", "link", "show", "master", BRIDGE], { encoding: "utf8" }),
    ) as unknown[];
    return links.map(String);
  } catch {
    return [];
  }
}

function listing(path: string): string[] {
  return existsSync(path) ? readdirSync(path) : [];
}

/** The CNI cache's entries (files, under its results/ folder). */
function cacheEntries(rootDir: string): string[] {
  const path = join(rootDir, "cni");
  if (!existsSync(path)) return [];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

function delCalls(): number {
  return existsSync(delLog) ? readFileSync(delLog, "utf8").split("\n").filter(Boolean).length : 0;
}

/** Whether a process runs: a zombie (killed, not yet reaped by its new parent) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function testContainers(): Promise<string[]> {
  const found = await docker.listContainers({
    label: ["io.berth.managed=true", "berth.test=cni-faults"],
  });
  return found.map((container) => container.Id);
}

let berth: BerthProcess | undefined;

async function berthOn(chained: string): Promise<BerthProcess> {
  berth = await startBerth({
    args: [
      "--cni-conf-dir",
      networkWith(chained),
      "--cni-bin-dir",
      `${pluginDir},/usr/lib/cni`,
      "--cni-plugin-timeout",
      PLUGIN_TIMEOUT,
    ],
  });
  return berth;
}

/** Nothing of the pod is left: no container, checkpoint, CNI cache entry, address or veth. */
async function assertNothingLeft(running: BerthProcess): Promise<void> {
  assert.deepEqual(await testContainers(), [], "no container");
  assert.deepEqual(listing(join(running.rootDir, "sandboxes")), [], "no checkpoint");
  assert.deepEqual(cacheEntries(running.rootDir), [], "no CNI cache entry");
  assert.deepEqual(reservations(), [], "no IP reserved");
  assert.deepEqual(bridgePorts(), [], "no veth on the bridge");
  const listed = await running.client.runtime.listPodSandbox({
    filter: { labelSelector: TEST_LABEL },
  });
  assert.deepEqual(listed.items, [], "no sandbox listed");
}

afterEach(async () => {
  // A failed test's pods: removed through berth, which retries and at last gives up on DEL.
  if (berth) {
    rmSync(marker, { force: true });
    const listed = await berth.client.runtime
      .listPodSandbox({ filter: { labelSelector: TEST_LABEL } })
      .catch(() => ({ items: [] }));
    for (const item of listed.items) {
      await berth.client.runtime.removePodSandbox({ podSandboxId: item.id }).catch(() => {});
    }
    await berth.stop();
    berth = undefined;
  }
  rmSync(delLog, { force: true });
});

after(async () => {
  for (const id of await testContainers()) await docker.removeContainer(id);
  await docker.close();
  try {
    execFileSync("ip", ["link", "del", BRIDGE], { stdio: "ignore" });
  } catch {
    // never made
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("CNI plugins that misbehave", { concurrency: false }, () => {
  test(`a plugin that never answers ADD is killed after --cni-plugin-timeout (${PLUGIN_TIMEOUT}) and the sandbox rolled back`, async () => {
    const running = await berthOn("berth-hang");
    const started = Date.now();
    await expectCode(
      running.client.runtime.runPodSandbox({
        config: podConfig("hang", { labels: { ...TEST_LABEL } }),
      }),
      status.DEADLINE_EXCEEDED,
      /CNI plugin berth-hang failed ADD on network berth-faults: no answer within 2000 ms \(--cni-plugin-timeout\); killed/,
    );
    const took = Date.now() - started;
    assert.ok(took >= 2000, `the plugin had its ${PLUGIN_TIMEOUT} (${took} ms)`);
    const pids = readFileSync(hangPids, "utf8").trim().split(/\s+/).map(Number);
    assert.equal(pids.length, 2, "the plugin and its child ran once");
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} was killed`);
    await assertNothingLeft(running);
  });

  test("a failing DEL fails StopPodSandbox UNAVAILABLE; the next Remove runs it again and cleans up", async () => {
    const running = await berthOn("berth-flaky-del");
    const { podSandboxId } = await running.client.runtime.runPodSandbox({
      config: podConfig("flaky", { labels: { ...TEST_LABEL } }),
    });
    assert.equal(reservations().length, 1);
    writeFileSync(marker, "");
    await expectCode(
      running.client.runtime.stopPodSandbox({ podSandboxId }),
      status.UNAVAILABLE,
      /attempt 1 of 3.*CNI plugin berth-flaky-del failed DEL on network berth-faults: refusing DEL for the test \(code 100\)/,
    );
    assert.equal(delCalls(), 1);
    assert.equal(cacheEntries(running.rootDir).length, 1, "the cached ADD is kept for the retry");

    rmSync(marker);
    await running.client.runtime.removePodSandbox({ podSandboxId });
    assert.equal(delCalls(), 2, "Remove ran the DEL again");
    await assertNothingLeft(running);
  });

  test("a DEL that always fails blocks removal twice, then the third attempt removes the pod", async () => {
    const running = await berthOn("berth-flaky-del");
    const { podSandboxId } = await running.client.runtime.runPodSandbox({
      config: podConfig("broken", { labels: { ...TEST_LABEL } }),
    });
    writeFileSync(marker, "");
    await expectCode(
      running.client.runtime.stopPodSandbox({ podSandboxId }),
      status.UNAVAILABLE,
      /attempt 1 of 3/,
    );
    await expectCode(
      running.client.runtime.removePodSandbox({ podSandboxId }),
      status.UNAVAILABLE,
      /attempt 2 of 3/,
    );
    await running.client.runtime.removePodSandbox({ podSandboxId });
    assert.equal(delCalls(), 3);
    assert.match(running.output(), /network teardown failed every time; giving up/);
    await assertNothingLeft(running);
  });

  test("a plugin writing garbage fails RunPodSandbox with an error naming it; nothing is left", async () => {
    const running = await berthOn("berth-garbage");
    await expectCode(
      running.client.runtime.runPodSandbox({
        config: podConfig("garbage", { labels: { ...TEST_LABEL } }),
      }),
      status.INTERNAL,
      /CNI plugin berth-garbage failed ADD on network berth-faults: output is not JSON: Segmentation fault\? \{"cniVersion": oops/,
    );
    await assertNothingLeft(running);
  });
});
