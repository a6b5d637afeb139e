/**
 * berth's Prometheus metrics and /healthz, scraped over HTTP from a berth started with
 * `--metrics-bind-address 127.0.0.1:0` (the port is read from its log), against the real
 * engine, CNI plugins and local registry. Counts are compared before and after each call, so
 * only what the test itself caused is asserted.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { type BerthProcess, startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { testDocker } from "../support/docker.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { expectCode } from "../support/grpc.ts";
import { podConfig } from "../support/pods.ts";
import { parsePrometheusText, type Sample, sampleSum } from "../support/prometheus-text.ts";

const fx = loadFixtures();
const docker = testDocker();
const cniDir = mkdtempSync(join(tmpdir(), "berth-metrics-cni-"));
/** An image of this run's own, with a layer no engine has, so the pull downloads bytes. */
const ownImage = `${fx.plainRegistry}/berth-e2e-metrics/layer:${process.pid}-${Date.now()}`;
const LAYER_BYTES = 2 * 1024 * 1024;
let berth: BerthProcess;
let base: string;

/** Waits for berth's "serving metrics" log line and answers the URL it names. */
async function metricsUrl(process: BerthProcess): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const line of process.output().split("\n")) {
      if (!line.includes('"serving metrics"')) continue;
      const { port } = JSON.parse(line) as { port: number };
      return `http://127.0.0.1:${port}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`berth logged no "serving metrics" line:\n${process.output()}`);
}

async function scrape(): Promise<Sample[]> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

/** What a block of calls changed in one series. */
async function delta<T>(
  calls: () => Promise<T>,
): Promise<{ result: T; change: (name: string, labels?: Record<string, string>) => number }> {
  const before = await scrape();
  const result = await calls();
  const after = await scrape();
  return {
    result,
    change: (name, labels) => sampleSum(after, name, labels) - sampleSum(before, name, labels),
  };
}

before(async () => {
  writeTestNetwork(cniDir);
  const context = mkdtempSync(join(tmpdir(), "berth-metrics-image-"));
  try {
    // Random, so gzip cannot shrink it: the engine reports its download in progress messages.
    writeFileSync(join(context, "blob"), randomBytes(LAYER_BYTES));
    execFileSync("sh", [
      "-c",
      'tar -C "$1" -c blob | docker import - "$2"',
      "sh",
      context,
      ownImage,
    ]);
    execFileSync("docker", ["push", ownImage], { stdio: "ignore" });
    execFileSync("docker", ["rmi", ownImage], { stdio: "ignore" });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  berth = await startBerth({
    args: [
      "--cni-conf-dir",
      cniDir,
      "--pod-infra-container-image",
      fx.pauseImage,
      "--metrics-bind-address",
      "127.0.0.1:0",
    ],
  });
  base = await metricsUrl(berth);
});
after(async () => {
  const { items } = await berth.client.runtime.listPodSandbox({});
  for (const item of items) await berth.client.runtime.removePodSandbox({ podSandboxId: item.id });
  await berth.stop();
  rmSync(dirname(berth.rootDir), { recursive: true, force: true });
  rmSync(cniDir, { recursive: true, force: true });
  const image = await docker.findImage(ownImage);
  if (image) await docker.removeImage(image.Id, true);
  await docker.close();
});

describe("metrics", () => {
  test("/healthz answers 200 while the engine answers and the CRI socket serves", async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "ok\n");
  });

  test("other paths are 404, other methods 405", async () => {
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: "POST" })).status, 405);
  });

  test("RPCs are counted by method and gRPC code and timed by method", async () => {
    const { change } = await delta(async () => {
      await berth.client.runtime.version({ version: "v1" });
      await berth.client.runtime.version({ version: "v1" });
      await expectCode(
        berth.client.runtime.podSandboxStatus({ podSandboxId: "f".repeat(64) }),
        status.NOT_FOUND,
      );
    });
    const ops = "berth_runtime_operations_total";
    assert.equal(change(ops, { operation_type: "Version", grpc_code: "OK" }), 2);
    assert.equal(change(ops, { operation_type: "PodSandboxStatus", grpc_code: "NOT_FOUND" }), 1);
    assert.equal(change(ops, { operation_type: "PodSandboxStatus", grpc_code: "OK" }), 0);
    const durations = "berth_runtime_operations_duration_seconds_count";
    assert.equal(change(durations, { operation_type: "Version" }), 2);
    assert.equal(change(durations, { operation_type: "PodSandboxStatus" }), 1);
  });

  test("a pull is counted by result, with its downloaded bytes, and its engine requests by route", async () => {
    const { change } = await delta(() =>
      berth.client.image.pullImage({ image: { image: ownImage } }),
    );
    assert.equal(
      change("berth_runtime_operations_total", { operation_type: "PullImage", grpc_code: "OK" }),
      1,
    );
    assert.equal(change("berth_image_pulls_total", { result: "success" }), 1);
    assert.equal(change("berth_image_pull_duration_seconds_count", { result: "success" }), 1);
    const bytes = change("berth_image_pull_bytes_total");
    assert.ok(bytes >= LAYER_BYTES && bytes < LAYER_BYTES * 1.1, `downloaded ${bytes} bytes`);
    const engine = "berth_docker_operations_total";
    assert.equal(change(engine, { endpoint: "POST /images/create", status: "200" }), 1);
    assert.ok(change(engine, { endpoint: "GET /images/{name}/json", status: "200" }) >= 1);
    assert.equal(
      change("berth_docker_operations_duration_seconds_count", { endpoint: "POST /images/create" }),
      1,
    );
  });

  test("a pod's run, stop and remove: RPCs, engine routes, CNI ADD/DEL and pods by state", async () => {
    const ready = await delta(async () => {
      const { podSandboxId } = await berth.client.runtime.runPodSandbox({
        config: podConfig("metrics"),
      });
      return podSandboxId;
    });
    const id = ready.result;
    const ops = "berth_runtime_operations_total";
    assert.equal(ready.change(ops, { operation_type: "RunPodSandbox", grpc_code: "OK" }), 1);
    const engine = "berth_docker_operations_total";
    assert.equal(ready.change(engine, { endpoint: "POST /containers/create", status: "201" }), 1);
    assert.equal(
      ready.change(engine, { endpoint: "POST /containers/{id}/start", status: "204" }),
      1,
    );
    const cni = "berth_network_plugin_operations_duration_seconds_count";
    assert.equal(ready.change(cni, { operation_type: "ADD", plugin_type: "bridge" }), 1);
    assert.equal(ready.change(cni, { operation_type: "ADD", plugin_type: "portmap" }), 1);
    assert.equal(ready.change("berth_pod_sandboxes", { sandbox_state: "ready" }), 1);
    assert.equal(
      ready.change("berth_network_plugin_operations_errors_total", { operation_type: "ADD" }),
      0,
    );

    const stopped = await delta(() => berth.client.runtime.stopPodSandbox({ podSandboxId: id }));
    assert.equal(stopped.change(ops, { operation_type: "StopPodSandbox", grpc_code: "OK" }), 1);
    assert.ok(stopped.change(cni, { operation_type: "DEL", plugin_type: "bridge" }) >= 1);
    assert.equal(stopped.change("berth_pod_sandboxes", { sandbox_state: "ready" }), -1);
    assert.equal(stopped.change("berth_pod_sandboxes", { sandbox_state: "notready" }), 1);

    const removed = await delta(() => berth.client.runtime.removePodSandbox({ podSandboxId: id }));
    assert.equal(removed.change(ops, { operation_type: "RemovePodSandbox", grpc_code: "OK" }), 1);
    assert.equal(removed.change(engine, { endpoint: "DELETE /containers/{id}", status: "204" }), 1);
    assert.equal(removed.change("berth_pod_sandboxes", { sandbox_state: "notready" }), -1);

    const samples = await scrape();
    assert.equal(sampleSum(samples, "berth_pod_sandboxes"), 0);
    for (const state of ["created", "running", "exited", "unknown"]) {
      assert.ok(
        samples.some((s) => s.name === "berth_containers" && s.labels.container_state === state),
        `berth_containers{container_state="${state}"} is present`,
      );
    }
  });

  test("a container: running by state, its exec through the hijacked routes, its log copy lag", async () => {
    const config = podConfig("metrics-container", { hostNetwork: true });
    const { podSandboxId } = await berth.client.runtime.runPodSandbox({ config });
    const started = await delta(async () => {
      const { containerId } = await berth.client.runtime.createContainer({
        podSandboxId,
        config: {
          metadata: { name: "echo", attempt: 0 },
          image: { image: fx.images.busybox },
          command: ["sh", "-c", "echo hello; exec sleep 3600"],
          logPath: "echo/0.log",
        },
        sandboxConfig: config,
      });
      await berth.client.runtime.startContainer({ containerId });
      const logFile = join(config.logDirectory ?? "", "echo/0.log");
      const deadline = Date.now() + 10_000;
      while (!(existsSync(logFile) && readFileSync(logFile, "utf8").includes("hello"))) {
        assert.ok(Date.now() < deadline, "the container's output reached its log file");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return containerId;
    });
    assert.equal(started.change("berth_containers", { container_state: "running" }), 1);
    assert.ok(started.change("berth_container_log_copy_lag_seconds_count") >= 1);

    const exec = await delta(() =>
      berth.client.runtime.execSync({ containerId: started.result, cmd: ["true"], timeout: 10n }),
    );
    assert.equal(exec.result.exitCode, 0);
    const engine = "berth_docker_operations_total";
    assert.equal(exec.change(engine, { endpoint: "POST /containers/{id}/exec", status: "201" }), 1);
    assert.equal(
      exec.change(engine, { endpoint: "POST /exec/{id}/start" }),
      1,
      "the hijacked exec start is counted too",
    );
    await berth.client.runtime.removePodSandbox({ podSandboxId });
  });

  test("no label carries an id, and process metrics are there under their standard names", async () => {
    const samples = await scrape();
    for (const sample of samples) {
      for (const value of Object.values(sample.labels)) {
        assert.doesNotMatch(value, /[0-9a-f]{12}/, `${sample.name} has an id in a label`);
        assert.doesNotMatch(value, /berth-e2e-metrics/, `${sample.name} names an image`);
      }
    }
    assert.ok(sampleSum(samples, "process_resident_memory_bytes") > 0);
    assert.ok(sampleSum(samples, "process_cpu_seconds_total") > 0);
    assert.ok(samples.some((s) => s.name === "nodejs_eventloop_lag_seconds"));
  });
});

describe("refusals", () => {
  test("a --metrics-bind-address already taken: berth exits 1 naming it, and leaves no socket", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    const refused = await startBerth({
      args: ["--cni-conf-dir", cniDir, "--metrics-bind-address", `127.0.0.1:${port}`],
      noWait: true,
    });
    try {
      assert.equal(await refused.exited, 1);
      assert.match(
        refused.output(),
        new RegExp(`berth: --metrics-bind-address 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
      assert.equal(existsSync(refused.socket), false, "the CRI socket is removed again");
    } finally {
      await refused.stop();
      taken.close();
    }
  });

  test("/healthz answers 503 naming the engine when nothing answers at --docker-endpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-metrics-noengine-"));
    const lonely = await startBerth({
      args: [
        "--docker-endpoint",
        `unix://${join(dir, "docker.sock")}`,
        "--cni-conf-dir",
        cniDir,
        "--metrics-bind-address",
        "127.0.0.1:0",
      ],
    });
    try {
      const response = await fetch(`${await metricsUrl(lonely)}/healthz`);
      assert.equal(response.status, 503);
      assert.match(await response.text(), /^docker: .*docker\.sock/m);
    } finally {
      await lonely.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
