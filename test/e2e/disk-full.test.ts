/**
 * A full disk, for real: berth's root directory and a pod's log directory on small tmpfs
 * mounts of the test's own (unmounted in a finally), filled until the kernel answers ENOSPC.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { PodSandboxState } from "../../src/gen/runtime/v1/api_pb.js";
import { verify } from "../../src/store/sandbox-checkpoint.ts";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { BUSYBOX, containerConfig, logText, readCriLog } from "../support/containers.ts";
import { testDocker } from "../support/docker.ts";
import { expectCode } from "../support/grpc.ts";
import { podConfig } from "../support/pods.ts";
import { parsePrometheusText, sampleSum } from "../support/prometheus-text.ts";
import { mountTmpfs, type Tmpfs } from "../support/tmpfs.ts";

const TEST_LABEL = { "berth.test": "disk-full" };
const docker = testDocker();
const dir = mkdtempSync(join(tmpdir(), "berth-disk-full-"));
const cniDir = join(dir, "cni");
mkdirSync(cniDir);
writeTestNetwork(cniDir);

after(async () => {
  const left = await docker.listContainers({
    label: ["io.berth.managed=true", "berth.test=disk-full"],
  });
  for (const container of left) await docker.removeContainer(container.Id);
  await docker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The tmpfs, or why this machine cannot mount one (the tests then skip). */
function tryMount(options: string, path: string): Tmpfs | string {
  mkdirSync(path, { recursive: true });
  try {
    return mountTmpfs(options, path);
  } catch (err) {
    return `cannot mount a tmpfs here: ${String(err).split("\n")[0]}`;
  }
}

async function metricsUrl(berth: BerthProcess): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const line of berth.output().split("\n")) {
      if (!line.includes('"serving metrics"')) continue;
      return `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    }
    await sleep(100);
  }
  throw new Error(`berth logged no "serving metrics" line:\n${berth.output()}`);
}

async function droppedBytes(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return sampleSum(parsePrometheusText(text), "berth_container_log_dropped_bytes_total");
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Every checkpoint in the directory parses and verifies: none torn, none corrupt. */
function assertCheckpointsWhole(sandboxes: string): string[] {
  const names = readdirSync(sandboxes);
  for (const name of names) {
    assert.match(name, /^[0-9a-f]{64}\.json$/, `only checkpoints (no temp file): ${name}`);
    const parsed = verify(readFileSync(join(sandboxes, name), "utf8"));
    assert.notEqual(typeof parsed, "string", `${name}: ${String(parsed)}`);
  }
  return names;
}

describe("a full disk", { concurrency: false }, () => {
  test("berth's root directory full: RunPodSandbox is RESOURCE_EXHAUSTED naming it, checkpoints stay whole, the rest keeps serving", async (t) => {
    const root = tryMount("size=4m", join(dir, "root"));
    if (typeof root === "string") return t.skip(root);
    let berth: BerthProcess | undefined;
    try {
      berth = await startBerth({ rootDir: root.path, args: ["--cni-conf-dir", cniDir] });
      const runtime = berth.client.runtime;
      const before = podConfig("before", { labels: { ...TEST_LABEL } });
      const { podSandboxId: first } = await runtime.runPodSandbox({ config: before });
      const sandboxes = join(root.path, "sandboxes");
      assert.deepEqual(assertCheckpointsWhole(sandboxes), [`${first}.json`]);

      await root.fill();
      const refused = podConfig("refused", { labels: { ...TEST_LABEL } });
      await expectCode(
        runtime.runPodSandbox({ config: refused }),
        status.RESOURCE_EXHAUSTED,
        new RegExp(`no space left on device for the sandbox checkpoint in ${sandboxes}`),
      );
      const made = await docker.listContainers({
        label: [`io.kubernetes.pod.uid=${refused.metadata?.uid}`],
      });
      assert.deepEqual(made, [], "no pause container was made");

      // Everything that needs no disk keeps working.
      assert.equal((await runtime.version({})).runtimeName, "docker");
      const ready = (await runtime.status({})).status?.conditions.find(
        (c) => c.type === "RuntimeReady",
      );
      assert.equal(ready?.status, true);
      const listed = await runtime.listPodSandbox({ filter: { labelSelector: TEST_LABEL } });
      assert.deepEqual(
        listed.items.map((item) => item.id),
        [first],
      );
      const pod = await runtime.podSandboxStatus({ podSandboxId: first });
      assert.equal(pod.status?.state, PodSandboxState.SANDBOX_READY);
      await berth.client.image.listImages({});

      // Stopping writes the checkpoint: on a full disk it may fail, RESOURCE_EXHAUSTED, but
      // never leaves the checkpoint torn.
      try {
        await runtime.stopPodSandbox({ podSandboxId: first });
      } catch (err) {
        assert.equal((err as { code?: number }).code, status.RESOURCE_EXHAUSTED, String(err));
        assert.match((err as { details?: string }).details ?? "", /ENOSPC|no space left/);
      }
      assert.deepEqual(assertCheckpointsWhole(sandboxes), [`${first}.json`]);

      await root.free();
      await runtime.stopPodSandbox({ podSandboxId: first });
      await runtime.removePodSandbox({ podSandboxId: first });
      const { podSandboxId: later } = await runtime.runPodSandbox({ config: refused });
      assert.deepEqual(assertCheckpointsWhole(sandboxes), [`${later}.json`]);
      await runtime.removePodSandbox({ podSandboxId: later });
      assert.deepEqual(readdirSync(sandboxes), []);
    } finally {
      await berth?.stop();
      root.unmount();
    }
  });

  test("a pod's log directory full: CreateContainer is RESOURCE_EXHAUSTED naming it; the log writer drops, counts and resumes", async (t) => {
    const logs = tryMount("size=1m", join(dir, "logs"));
    if (typeof logs === "string") return t.skip(logs);
    let berth: BerthProcess | undefined;
    try {
      berth = await startBerth({
        args: ["--cni-conf-dir", cniDir, "--metrics-bind-address", "127.0.0.1:0"],
      });
      const runtime = berth.client.runtime;
      const metrics = await metricsUrl(berth);
      const config = {
        ...podConfig("logs", { labels: { ...TEST_LABEL } }),
        logDirectory: join(logs.path, "pod"),
      };
      const { podSandboxId } = await runtime.runPodSandbox({ config });
      const { containerId } = await runtime.createContainer({
        podSandboxId,
        config: containerConfig("talker", {
          image: { image: BUSYBOX },
          command: ["sh", "-c", "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.02; done"],
        }),
        sandboxConfig: config,
      });
      await runtime.startContainer({ containerId });
      const logPath = join(logs.path, "pod", "talker", "0.log");
      const lines = () => logText(readCriLog(logPath));
      await waitUntil("the first lines", () => lines().length >= 5);

      await logs.fill();
      await expectCode(
        runtime.createContainer({
          podSandboxId,
          config: containerConfig("second", { image: { image: BUSYBOX } }),
          sandboxConfig: config,
        }),
        status.RESOURCE_EXHAUSTED,
        new RegExp(`no space left on device for the container log in ${join(logs.path, "pod")}`),
      );
      await waitUntil("output to be dropped", async () => (await droppedBytes(metrics)) > 0);
      assert.match(berth.output(), /could not write the container log; dropping its output/);
      await sleep(500);
      const beforeFree = lines();

      await logs.free();
      await waitUntil("the writer to resume", () =>
        /writing the container log works again/.test(berth?.output() ?? ""),
      );
      await waitUntil("new lines", () => lines().length > beforeFree.length + 3);
      const resumed = berth
        .output()
        .split("\n")
        .find((line) => line.includes("writing the container log works again"));
      const dropped = (JSON.parse(resumed ?? "{}") as { droppedBytes?: number }).droppedBytes ?? 0;
      assert.ok(dropped > 0, `the log line says how much was dropped: ${resumed}`);
      assert.equal(await droppedBytes(metrics), dropped, "the metric counts the same bytes");

      // The file holds whole CRI lines only (readCriLog asserts each), with a gap where the
      // output was dropped.
      const numbers = lines().map((line) => Number(/^line-(\d+)$/.exec(line)?.[1]));
      assert.ok(numbers.every(Number.isInteger), "only the container's lines");
      const gaps = numbers.slice(1).filter((n, i) => n !== (numbers[i] as number) + 1);
      assert.ok(gaps.length >= 1, "lines were dropped while the disk was full");
      assert.ok(
        numbers.every((n, i) => i === 0 || n > (numbers[i - 1] as number)),
        "in order",
      );

      // And CreateContainer works again.
      await runtime.createContainer({
        podSandboxId,
        config: containerConfig("second", { image: { image: BUSYBOX } }),
        sandboxConfig: config,
      });
      await runtime.removePodSandbox({ podSandboxId });
    } finally {
      await berth?.stop();
      logs.unmount();
    }
  });
});
