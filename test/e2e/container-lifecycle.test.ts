import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import {
  ContainerState,
  MountPropagation,
  NamespaceMode,
  Signal,
} from "../../src/gen/runtime/v1/api_pb.js";
import {
  BUSYBOX,
  type ContainerEnv,
  containerConfig,
  containerStatus,
  createContainer,
  fixtures,
  nowNs,
  outputOf,
  type Pod,
  readCriLog,
  runContainer,
  runPod,
  startContainerEnv,
  waitFor,
  waitForState,
} from "../support/containers.ts";
import { testDocker } from "../support/docker.ts";
import { expectCode } from "../support/grpc.ts";

/**
 * CreateContainer, StartContainer, StopContainer, RemoveContainer, ListContainers and
 * ContainerStatus through berth's socket, against the real engine.
 */

let env: ContainerEnv;
let busyboxId: string;
/** busybox's repo digest if some test pulled it from a registry, else its ID. */
let busyboxRef: string;
/** busybox's first repo tag (other tests may have tagged it from a registry too). */
let busyboxTag: string;
/** An image like busybox whose config says STOPSIGNAL SIGUSR2. */
const STOP_IMAGE = "berth-e2e/stopsignal:1";
const PULLED = `${fixtures.plainRegistry}/berth-test/pullable:1.0`;
const hostDirs: string[] = [];
let stopImageBuilt = false;

before(async () => {
  env = await startContainerEnv();
  const image = await env.berth.client.image.imageStatus({ image: { image: BUSYBOX } });
  busyboxId = image.image?.id ?? "";
  assert.match(busyboxId, /^sha256:[0-9a-f]{64}$/);
  busyboxRef = image.image?.repoDigests[0] ?? busyboxId;
  busyboxTag = image.image?.repoTags[0] ?? "";
  // The engine's legacy builder works offline from a local base image.
  try {
    execFileSync("docker", ["build", "-q", "-t", STOP_IMAGE, "-"], {
      input: `FROM ${BUSYBOX}\nSTOPSIGNAL SIGUSR2\n`,
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      stdio: ["pipe", "ignore", "pipe"],
    });
    stopImageBuilt = true;
  } catch (err) {
    console.log(`# cannot build ${STOP_IMAGE}: ${String(err)}`);
  }
});

after(async () => {
  try {
    await env.close();
  } finally {
    for (const dir of hostDirs) rmSync(dir, { recursive: true, force: true });
    // The pods and their containers are gone: the images can go too.
    const docker = testDocker();
    for (const image of [STOP_IMAGE, PULLED]) await docker.removeImage(image, true).catch(() => {});
    await docker.close();
  }
});

/** A script that says "ready" once its trap is set, then waits (waking often for the trap). */
const trapping = (trap: string) => `${trap}; echo ready; while true; do sleep 0.1; done`;

async function waitReady(path: string): Promise<void> {
  await waitFor(
    `"ready" in ${path}`,
    () => readCriLog(path).some((line) => line.text === "ready"),
    10_000,
  );
}

const sandboxLabel = "io.berth.sandbox-id";

/** The engine's containers of a pod, found by the label berth gives them. */
async function dockerContainersOf(pod: Pod) {
  return env.docker.listContainers({ label: [`${sandboxLabel}=${pod.id}`] });
}

describe("container lifecycle", () => {
  test("CreateContainer: CREATED; name, sandbox label, metadata, labels, annotations, log path, mounts and image round-trip", async () => {
    const pod = await runPod(env, "create");
    const hostDir = mkdtempSync(join(tmpdir(), "berth-ctr-mount-"));
    hostDirs.push(hostDir);
    const before = nowNs();
    const config = containerConfig("app", {
      metadata: { name: "app", attempt: 2 },
      // The kubelet passes the image ID it pulled, and the user's name for it beside.
      image: { image: busyboxId, userSpecifiedImage: BUSYBOX },
      mounts: [
        { containerPath: "/data", hostPath: hostDir, readonly: true },
        {
          containerPath: "/scratch",
          hostPath: hostDir,
          propagation: MountPropagation.PROPAGATION_PRIVATE,
          selinuxRelabel: true,
        },
      ],
      labels: { tier: "backend", "berth.test/x": "1" },
      annotations: { "berth.test/a": "one", "berth.test/b": "two" },
      logPath: "app/2.log",
    });
    const container = await createContainer(env, pod, config);
    const after = nowNs();
    const s = await containerStatus(env, container.id);

    assert.equal(s.id, container.id);
    assert.equal(s.state, ContainerState.CONTAINER_CREATED);
    assert.ok(s.createdAt >= before - 1_000_000_000n && s.createdAt <= after, "created now, in ns");
    assert.equal(s.startedAt, 0n);
    assert.equal(s.finishedAt, 0n);
    assert.equal(s.exitCode, 0);
    assert.equal(s.reason, "");
    assert.equal(s.metadata?.name, "app");
    assert.equal(s.metadata?.attempt, 2);
    assert.deepEqual(s.labels, config.labels);
    assert.deepEqual(s.annotations, config.annotations);
    assert.equal(s.logPath, join(pod.logDirectory, "app/2.log"));
    assert.ok(s.logPath.startsWith("/"), "absolute");
    assert.deepEqual(
      s.mounts.map((m) => ({
        containerPath: m.containerPath,
        hostPath: m.hostPath,
        readonly: m.readonly,
        propagation: m.propagation,
        selinuxRelabel: m.selinuxRelabel,
      })),
      [
        {
          containerPath: "/data",
          hostPath: hostDir,
          readonly: true,
          propagation: MountPropagation.PROPAGATION_PRIVATE,
          selinuxRelabel: false,
        },
        {
          containerPath: "/scratch",
          hostPath: hostDir,
          readonly: false,
          propagation: MountPropagation.PROPAGATION_PRIVATE,
          selinuxRelabel: true,
        },
      ],
      "exactly the requested mounts, none of the engine's own",
    );
    assert.equal(s.image?.image, BUSYBOX, "readable, not the sha256 ID the kubelet passed");
    assert.equal(s.image?.userSpecifiedImage, BUSYBOX);
    assert.equal(s.imageId, busyboxId);
    assert.equal(s.imageRef, busyboxRef, "the repo digest, else the ID");
    assert.equal(s.stopSignal, Signal.SIGTERM);

    const inspect = await env.docker.inspectContainer(container.id);
    const meta = pod.config.metadata;
    assert.equal(inspect.Name, `/k8s_app_${meta?.name}_${meta?.namespace}_${meta?.uid}_2`);
    assert.equal(inspect.Config.Labels?.[sandboxLabel], pod.id);
    assert.equal(inspect.Config.Labels?.["io.kubernetes.pod.name"], meta?.name);
    assert.equal(inspect.Config.Labels?.["io.kubernetes.pod.namespace"], meta?.namespace);
    assert.equal(inspect.Config.Labels?.["io.kubernetes.pod.uid"], meta?.uid);
    assert.equal(inspect.Config.Labels?.["io.kubernetes.container.name"], "app");
    assert.equal(inspect.Image, busyboxId);
  });

  test("StartContainer: RUNNING with its start time; ListContainers filters by id, state, sandbox and labels", async () => {
    const podA = await runPod(env, "list-a");
    const podB = await runPod(env, "list-b");
    const beforeStart = nowNs();
    const running = await runContainer(
      env,
      podA,
      containerConfig("running", { labels: { role: "web", group: "list-test" } }),
    );
    const created = await createContainer(
      env,
      podA,
      containerConfig("created", { labels: { role: "db", group: "list-test" } }),
    );
    const other = await runContainer(
      env,
      podB,
      containerConfig("other", { labels: { role: "web", group: "list-test" } }),
    );

    const s = await containerStatus(env, running.id);
    assert.equal(s.state, ContainerState.CONTAINER_RUNNING);
    assert.ok(s.startedAt >= beforeStart - 1_000_000_000n && s.startedAt <= nowNs());
    assert.ok(s.startedAt >= s.createdAt);
    assert.equal(s.finishedAt, 0n);
    assert.equal(s.reason, "");

    const list = async (filter: object) =>
      (await env.berth.client.runtime.listContainers({ filter })).containers
        .map((c) => c.id)
        .sort();
    const ids = (...cs: Array<{ id: string }>) => cs.map((c) => c.id).sort();

    assert.deepEqual(await list({ id: running.id }), ids(running));
    assert.deepEqual(await list({ id: "f".repeat(64) }), []);
    assert.deepEqual(await list({ podSandboxId: podA.id }), ids(running, created));
    assert.deepEqual(await list({ podSandboxId: podB.id }), ids(other));
    assert.deepEqual(
      await list({ podSandboxId: podA.id, state: { state: ContainerState.CONTAINER_RUNNING } }),
      ids(running),
    );
    assert.deepEqual(
      await list({ podSandboxId: podA.id, state: { state: ContainerState.CONTAINER_CREATED } }),
      ids(created),
    );
    assert.deepEqual(
      await list({ labelSelector: { group: "list-test" } }),
      ids(running, created, other),
    );
    assert.deepEqual(
      await list({ labelSelector: { group: "list-test", role: "web" } }),
      ids(running, other),
    );
    assert.deepEqual(
      await list({ podSandboxId: podB.id, labelSelector: { group: "list-test", role: "db" } }),
      [],
    );
    assert.deepEqual(
      await list({ id: other.id, podSandboxId: podA.id }),
      [],
      "every filter must match",
    );

    // The listed container tells the same as its status.
    const [item] = (await env.berth.client.runtime.listContainers({ filter: { id: running.id } }))
      .containers;
    assert.ok(item);
    assert.equal(item.podSandboxId, podA.id);
    assert.equal(item.state, ContainerState.CONTAINER_RUNNING);
    assert.equal(item.createdAt, s.createdAt);
    assert.deepEqual(item.metadata, s.metadata);
    assert.deepEqual(item.labels, { role: "web", group: "list-test" });
    assert.deepEqual(item.annotations, s.annotations);
    assert.equal(item.image?.image, s.image?.image);
    assert.equal(item.image?.userSpecifiedImage, s.image?.userSpecifiedImage);
    assert.equal(item.imageRef, s.imageRef);
    assert.equal(item.imageId, s.imageId);
  });

  test("a container that exits: EXITED, Completed for 0, Error with the exit code otherwise, times in ns", async () => {
    const pod = await runPod(env, "exit");
    const [ok, failed] = await Promise.all([
      outputOf(env, pod, "ok", "echo done; exit 0"),
      outputOf(env, pod, "failed", "echo failing; exit 3"),
    ]);
    assert.equal(ok.status.state, ContainerState.CONTAINER_EXITED);
    assert.equal(ok.status.exitCode, 0);
    assert.equal(ok.status.reason, "Completed");
    assert.equal(ok.status.message, "");
    assert.deepEqual(ok.lines, ["done"]);
    assert.equal(failed.status.exitCode, 3);
    assert.equal(failed.status.reason, "Error");
    assert.deepEqual(failed.lines, ["failing"]);
    for (const { status: s } of [ok, failed]) {
      assert.ok(s.createdAt > 0n && s.startedAt >= s.createdAt, "started after created");
      assert.ok(s.finishedAt >= s.startedAt, "finished after started");
      assert.ok(s.finishedAt <= nowNs(), "finished in the past");
      assert.ok(s.finishedAt > nowNs() - 60_000_000_000n, "nanoseconds, not seconds");
    }
  });

  test("command, args, envs and working_dir as the process sees them; the image's own command otherwise", async () => {
    const pod = await runPod(env, "process");
    const [explicit, argsOnly, imageCmd] = await Promise.all([
      outputOf(env, pod, "explicit", "unused", {
        command: ["sh", "-c"],
        args: ['echo "$GREETING" "$EMPTY|"; pwd; echo "$0"', "zero"],
        envs: [
          { key: "GREETING", value: new TextEncoder().encode("hello world") },
          { key: "EMPTY", value: new Uint8Array() },
        ],
        workingDir: "/tmp",
      }),
      // args alone replace the image's CMD (busybox: ["sh"]) and keep its (empty) entrypoint.
      outputOf(env, pod, "args-only", "unused", { command: [], args: ["echo", "from args"] }),
      // Neither: the image's CMD, a shell that reads its empty stdin and exits 0.
      outputOf(env, pod, "image-cmd", "unused", { command: [], args: [] }),
    ]);
    assert.deepEqual(explicit.lines, ["hello world |", "/tmp", "zero"]);
    assert.deepEqual(argsOnly.lines, ["from args"]);
    assert.equal(imageCmd.status.exitCode, 0);
    assert.equal(imageCmd.status.reason, "Completed");
  });

  test("a container without a log_path runs, and no log file is written", async () => {
    const pod = await runPod(env, "no-log");
    const c = await createContainer(
      env,
      pod,
      containerConfig("quiet", { command: ["sh", "-c", "echo unseen"], logPath: "" }),
    );
    await env.berth.client.runtime.startContainer({ containerId: c.id });
    const s = await waitForState(env, c.id);
    assert.equal(s.logPath, "");
    assert.equal(s.exitCode, 0);
    const logs = existsSync(pod.logDirectory) ? readdirSync(pod.logDirectory) : [];
    assert.deepEqual(logs, []);
  });

  test("image fields: image_id is Image.id, image_ref the repo digest, image.image readable when the kubelet passes the ID", async () => {
    await env.berth.client.image.pullImage({ image: { image: PULLED } });
    const pulled = (await env.berth.client.image.imageStatus({ image: { image: PULLED } })).image;
    assert.ok(pulled);
    const digest = pulled.repoDigests[0] ?? "";
    assert.match(digest, /^.+@sha256:[0-9a-f]{64}$/);
    assert.match(pulled.id, /^sha256:[0-9a-f]{64}$/);

    const pod = await runPod(env, "images");
    const byIdAndName = await createContainer(
      env,
      pod,
      containerConfig("by-id-and-name", {
        image: { image: pulled.id, userSpecifiedImage: PULLED },
      }),
    );
    const byIdOnly = await createContainer(
      env,
      pod,
      containerConfig("by-id-only", { image: { image: pulled.id } }),
    );
    const byName = await createContainer(
      env,
      pod,
      containerConfig("by-name", { image: { image: PULLED } }),
    );
    const busyboxById = await createContainer(
      env,
      pod,
      containerConfig("busybox-by-id", { image: { image: busyboxId } }),
    );
    const byDigest = await createContainer(
      env,
      pod,
      containerConfig("by-digest", { image: { image: digest, userSpecifiedImage: digest } }),
    );
    // An image built here and never pushed has no repo digest: image_ref is its ID.
    const local = stopImageBuilt
      ? (await env.berth.client.image.imageStatus({ image: { image: STOP_IMAGE } })).image
      : undefined;
    const localById = local
      ? await createContainer(
          env,
          pod,
          containerConfig("local-by-id", { image: { image: local.id } }),
        )
      : undefined;
    const listed = new Map(
      (
        await env.berth.client.runtime.listContainers({ filter: { podSandboxId: pod.id } })
      ).containers.map((c) => [c.id, c]),
    );
    const expectations = [
      { c: byIdAndName, image: PULLED, user: PULLED, ref: digest, id: pulled.id },
      { c: byIdOnly, image: pulled.repoTags[0], user: "", ref: digest, id: pulled.id },
      { c: byName, image: PULLED, user: "", ref: digest, id: pulled.id },
      { c: busyboxById, image: busyboxTag, user: "", ref: busyboxRef, id: busyboxId },
      { c: byDigest, image: digest, user: digest, ref: digest, id: pulled.id },
    ];
    if (local && localById) {
      assert.deepEqual(local.repoDigests, [], `${STOP_IMAGE} was never pushed`);
      expectations.push({ c: localById, image: STOP_IMAGE, user: "", ref: local.id, id: local.id });
    }
    for (const e of expectations) {
      const s = await containerStatus(env, e.c.id);
      const item = listed.get(e.c.id);
      assert.ok(item, `${e.c.config.metadata?.name} is listed`);
      for (const [where, got] of [
        ["status", { image: s.image, imageRef: s.imageRef, imageId: s.imageId }],
        ["list", { image: item.image, imageRef: item.imageRef, imageId: item.imageId }],
      ] as const) {
        const what = `${where} of ${e.c.config.metadata?.name}`;
        assert.equal(got.imageId, e.id, `${what}: image_id`);
        assert.equal(got.imageRef, e.ref, `${what}: image_ref`);
        assert.equal(got.image?.image, e.image, `${what}: image.image`);
        assert.doesNotMatch(
          got.image?.image ?? "",
          /^(sha256:)?[0-9a-f]{64}$/,
          `${what}: readable`,
        );
        if (e.user !== "") assert.equal(got.image?.userSpecifiedImage, e.user, what);
      }
    }
    for (const c of [byIdAndName, byIdOnly, byName, busyboxById, byDigest, localById]) {
      if (!c) continue;
      await env.berth.client.runtime.removeContainer({ containerId: c.id });
    }
    await env.berth.client.image.removeImage({ image: { image: pulled.id } });
  });

  test("StopContainer sends the config's stop_signal, and ContainerStatus reports it", async () => {
    const pod = await runPod(env, "stop-signal");
    const c = await runContainer(
      env,
      pod,
      containerConfig("usr1", {
        command: ["sh", "-c", trapping('trap "echo got USR1; exit 42" USR1')],
        stopSignal: Signal.SIGUSR1,
      }),
    );
    assert.equal((await containerStatus(env, c.id)).stopSignal, Signal.SIGUSR1);
    await waitReady(c.logPath);
    const started = performance.now();
    await env.berth.client.runtime.stopContainer({ containerId: c.id, timeout: 20n });
    assert.ok(performance.now() - started < 10_000, "stopped by the signal, not the timeout");
    const s = await waitForState(env, c.id);
    assert.equal(s.exitCode, 42, "the trap for SIGUSR1 ran");
    assert.equal(s.reason, "Error");
    assert.equal(s.stopSignal, Signal.SIGUSR1);
    assert.ok(readCriLog(c.logPath).some((line) => line.text === "got USR1"));
  });

  /** Starts a container trapping `signal`, stops it, answers what it logged and its status. */
  async function stopAndObserve(pod: Pod, name: string, image: string) {
    const c = await runContainer(
      env,
      pod,
      containerConfig(name, {
        image: { image },
        command: [
          "sh",
          "-c",
          trapping('trap "echo got USR2; exit 0" USR2; trap "echo got TERM; exit 0" TERM'),
        ],
      }),
    );
    const stopSignal = (await containerStatus(env, c.id)).stopSignal;
    await waitReady(c.logPath);
    await env.berth.client.runtime.stopContainer({ containerId: c.id, timeout: 20n });
    const s = await waitForState(env, c.id);
    return { stopSignal, s, texts: readCriLog(c.logPath).map((line) => line.text) };
  }

  test("without a stop_signal: the image's STOPSIGNAL", async (t) => {
    if (!stopImageBuilt) {
      t.skip(`no image with a STOPSIGNAL: building ${STOP_IMAGE} failed`);
      return;
    }
    const pod = await runPod(env, "stop-image");
    const { stopSignal, s, texts } = await stopAndObserve(pod, "image-signal", STOP_IMAGE);
    assert.equal(stopSignal, Signal.SIGUSR2);
    assert.deepEqual(texts, ["ready", "got USR2"]);
    assert.equal(s.exitCode, 0);
    assert.equal(s.reason, "Completed");
  });

  test("without a stop_signal in the config or the image: SIGTERM", async () => {
    const pod = await runPod(env, "stop-default");
    const { stopSignal, s, texts } = await stopAndObserve(pod, "sigterm", BUSYBOX);
    assert.equal(stopSignal, Signal.SIGTERM);
    assert.deepEqual(texts, ["ready", "got TERM"]);
    assert.equal(s.exitCode, 0);
    assert.equal(s.reason, "Completed");
  });

  test("StopContainer: SIGKILL once the timeout passed (137); timeout 0 kills at once", async () => {
    const pod = await runPod(env, "stop-timeout");
    const ignoring = (name: string) =>
      runContainer(
        env,
        pod,
        containerConfig(name, { command: ["sh", "-c", trapping('trap "echo ignored" TERM')] }),
      );
    const [stubborn, quick] = await Promise.all([ignoring("stubborn"), ignoring("quick")]);
    await Promise.all([waitReady(stubborn.logPath), waitReady(quick.logPath)]);
    const timed = async (run: () => Promise<unknown>) => {
      const start = performance.now();
      await run();
      return performance.now() - start;
    };
    const [slow, fast] = await Promise.all([
      timed(() =>
        env.berth.client.runtime.stopContainer({ containerId: stubborn.id, timeout: 2n }),
      ),
      timed(() => env.berth.client.runtime.stopContainer({ containerId: quick.id, timeout: 0n })),
    ]);
    assert.ok(slow >= 1900, `waited for the timeout (${Math.round(slow)} ms)`);
    assert.ok(slow < 10_000, `then killed (${Math.round(slow)} ms)`);
    assert.ok(fast < 1500, `timeout 0 kills at once (${Math.round(fast)} ms)`);
    for (const c of [stubborn, quick]) {
      const s = await containerStatus(env, c.id);
      assert.equal(s.state, ContainerState.CONTAINER_EXITED, "EXITED when StopContainer returns");
      assert.equal(s.exitCode, 137);
      assert.equal(s.reason, "Error");
    }
    assert.ok(
      readCriLog(stubborn.logPath).some((line) => line.text === "ignored"),
      "the stop signal came first",
    );
  });

  test("Stop and Remove: missing containers succeed; Remove of a running container stops and removes it", async () => {
    const missing = "0123456789abcdef".repeat(4);
    await env.berth.client.runtime.stopContainer({ containerId: missing, timeout: 1n });
    await env.berth.client.runtime.removeContainer({ containerId: missing });

    const pod = await runPod(env, "remove");
    const c = await runContainer(env, pod, containerConfig("doomed"));
    await env.berth.client.runtime.removeContainer({ containerId: c.id });
    assert.equal(await env.docker.findContainer(c.id), undefined, "gone from the engine");
    await expectCode(
      env.berth.client.runtime.containerStatus({ containerId: c.id }),
      status.NOT_FOUND,
    );
    const listed = await env.berth.client.runtime.listContainers({ filter: { id: c.id } });
    assert.deepEqual(listed.containers, []);
    // Again: still fine.
    await env.berth.client.runtime.removeContainer({ containerId: c.id });
    await env.berth.client.runtime.stopContainer({ containerId: c.id, timeout: 0n });

    // Stopping a stopped container, twice, is fine too.
    const stopped = await runContainer(env, pod, containerConfig("stopped"));
    await env.berth.client.runtime.stopContainer({ containerId: stopped.id, timeout: 0n });
    await env.berth.client.runtime.stopContainer({ containerId: stopped.id, timeout: 0n });
    assert.equal((await containerStatus(env, stopped.id)).state, ContainerState.CONTAINER_EXITED);
  });

  test("StartContainer: an exited container is refused, not run again; a running one is left alone; Stop of a created one succeeds", async () => {
    const pod = await runPod(env, "restart");
    const { container, status: s } = await outputOf(env, pod, "once", "echo ran");
    await expectCode(
      env.berth.client.runtime.startContainer({ containerId: container.id }),
      status.FAILED_PRECONDITION,
    );
    const again = await containerStatus(env, container.id);
    assert.equal(again.state, ContainerState.CONTAINER_EXITED);
    assert.equal(again.startedAt, s.startedAt, "not started again");
    assert.deepEqual(
      readCriLog(container.logPath).map((line) => line.text),
      ["ran"],
    );
    // A retried start of a running container is a no-op.
    const running = await runContainer(env, pod, containerConfig("running"));
    const startedAt = (await containerStatus(env, running.id)).startedAt;
    await env.berth.client.runtime.startContainer({ containerId: running.id });
    assert.equal((await containerStatus(env, running.id)).startedAt, startedAt);

    const created = await createContainer(env, pod, containerConfig("never-started"));
    await env.berth.client.runtime.stopContainer({ containerId: created.id, timeout: 1n });
    await env.berth.client.runtime.removeContainer({ containerId: created.id });
    assert.equal(await env.docker.findContainer(created.id), undefined);
  });

  test("RemovePodSandbox removes the pod's containers", async () => {
    const pod = await runPod(env, "remove-pod");
    const running = await runContainer(env, pod, containerConfig("running"));
    const created = await createContainer(env, pod, containerConfig("created"));
    await env.berth.client.runtime.removePodSandbox({ podSandboxId: pod.id });
    for (const c of [running, created]) {
      assert.equal(await env.docker.findContainer(c.id), undefined);
      await expectCode(
        env.berth.client.runtime.containerStatus({ containerId: c.id }),
        status.NOT_FOUND,
      );
    }
    const listed = await env.berth.client.runtime.listContainers({
      filter: { podSandboxId: pod.id },
    });
    assert.deepEqual(listed.containers, []);
  });

  test("unknown ids: ContainerStatus, StartContainer, UpdateContainerResources and ReopenContainerLog fail NOT_FOUND", async () => {
    const missing = "fedcba9876543210".repeat(4);
    const rt = env.berth.client.runtime;
    await expectCode(rt.containerStatus({ containerId: missing }), status.NOT_FOUND);
    await expectCode(rt.startContainer({ containerId: missing }), status.NOT_FOUND);
    await expectCode(
      rt.updateContainerResources({ containerId: missing, linux: { cpuShares: 512n } }),
      status.NOT_FOUND,
    );
    await expectCode(rt.reopenContainerLog({ containerId: missing }), status.NOT_FOUND);
  });

  test("CreateContainer in a missing sandbox fails NOT_FOUND, in a stopped one FAILED_PRECONDITION; so does StartContainer", async () => {
    const pod = await runPod(env, "stopped-pod");
    const waiting = await createContainer(env, pod, containerConfig("waiting"));
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: "abcdef0123456789".repeat(4),
        config: containerConfig("nowhere"),
        sandboxConfig: pod.config,
      }),
      status.NOT_FOUND,
    );
    await env.berth.client.runtime.stopPodSandbox({ podSandboxId: pod.id });
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: containerConfig("late"),
        sandboxConfig: pod.config,
      }),
      status.FAILED_PRECONDITION,
    );
    await expectCode(
      env.berth.client.runtime.startContainer({ containerId: waiting.id }),
      status.FAILED_PRECONDITION,
    );
    assert.deepEqual(
      (await dockerContainersOf(pod)).map((c) => c.Id),
      [waiting.id],
      "the refused create made nothing",
    );
  });

  test("invalid configs fail INVALID_ARGUMENT naming the field, and leave no container or log file behind", async () => {
    const pod = await runPod(env, "invalid");
    const cases: Array<[string, Parameters<typeof containerConfig>[1], RegExp]> = [
      ["metadata", { metadata: undefined }, /metadata/],
      ["image", { image: { image: "" } }, /image/],
      [
        "mount",
        { mounts: [{ containerPath: "relative", hostPath: "/tmp" }] },
        /mounts\[0\]\.container_path/,
      ],
      ["mount-host", { mounts: [{ containerPath: "/x", hostPath: "" }] }, /mounts\[0\]\.host_path/],
      [
        "capability",
        { linux: { securityContext: { capabilities: { addCapabilities: ["NOT_A_CAP"] } } } },
        /capabilities\.add_capabilities\[0\]/,
      ],
      [
        "group-without-user",
        { linux: { securityContext: { runAsGroup: { value: 5n } } } },
        /run_as_group/,
      ],
      ["workdir", { workingDir: "relative/dir" }, /working_dir/],
      ["env", { envs: [{ key: "", value: new TextEncoder().encode("x") }] }, /envs\[0\]\.key/],
      [
        "swap",
        {
          linux: {
            resources: { memoryLimitInBytes: 64n << 20n, memorySwapLimitInBytes: 32n << 20n },
          },
        },
        /memory_swap_limit_in_bytes/,
      ],
      [
        "network",
        {
          linux: {
            // A container follows its pod's network; a network of its own is not a mode.
            securityContext: { namespaceOptions: { network: NamespaceMode.CONTAINER } },
          },
        },
        /namespace_options\.network/,
      ],
      ["log-path", { logPath: "../../escape.log" }, /log_path/],
      ["privileged", { linux: { securityContext: { privileged: true } } }, /privileged/],
    ];
    for (const [name, overrides, field] of cases) {
      const config = { ...containerConfig(name), ...overrides };
      await expectCode(
        env.berth.client.runtime.createContainer({
          podSandboxId: pod.id,
          config,
          sandboxConfig: pod.config,
        }),
        status.INVALID_ARGUMENT,
        field,
      );
    }
    // The engine itself refuses this one (CPUs the host lacks), after berth's checks passed.
    await assert.rejects(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: containerConfig("engine-refuses", { linux: { resources: { cpusetCpus: "999" } } }),
        sandboxConfig: pod.config,
      }),
    );
    // An image that is not there.
    await expectCode(
      env.berth.client.runtime.createContainer({
        podSandboxId: pod.id,
        config: containerConfig("no-image", { image: { image: "berth-e2e/absent:1" } }),
        sandboxConfig: pod.config,
      }),
      status.NOT_FOUND,
    );
    assert.deepEqual(await dockerContainersOf(pod), [], "no container left behind");
    const logs = existsSync(pod.logDirectory)
      ? readdirSync(pod.logDirectory, { recursive: true })
      : [];
    assert.deepEqual(logs, [], "no log file left behind");
  });

  test("a container whose start failed: EXITED, reason ContainerCannotRun, Docker's error as message", async () => {
    const pod = await runPod(env, "cannot-run");
    const c = await createContainer(
      env,
      pod,
      containerConfig("broken", { command: ["/no/such/binary"] }),
    );
    await assert.rejects(env.berth.client.runtime.startContainer({ containerId: c.id }));
    const s = await containerStatus(env, c.id);
    assert.equal(s.state, ContainerState.CONTAINER_EXITED, "never CREATED forever");
    assert.equal(s.reason, "ContainerCannotRun");
    assert.match(s.message, /\/no\/such\/binary/);
    assert.match(s.message, /no such file or directory/);
    assert.notEqual(s.exitCode, 0);
    assert.ok(s.finishedAt >= s.createdAt, "a finish time the kubelet can order by");
    const listed = await env.berth.client.runtime.listContainers({
      filter: { id: c.id, state: { state: ContainerState.CONTAINER_EXITED } },
    });
    assert.deepEqual(
      listed.containers.map((item) => item.id),
      [c.id],
    );
  });

  test("a start that fails before the engine runs anything (the log file cannot be opened): EXITED with the error, not CREATED forever", async () => {
    const pod = await runPod(env, "bad-log");
    const c = await createContainer(env, pod, containerConfig("bad-log"));
    // A directory where the log file should be: the file cannot be opened.
    mkdirSync(c.logPath, { recursive: true });
    await assert.rejects(env.berth.client.runtime.startContainer({ containerId: c.id }));
    const s = await containerStatus(env, c.id);
    assert.equal(s.state, ContainerState.CONTAINER_EXITED);
    assert.notEqual(s.reason, "");
    assert.match(s.message, /0\.log/);
  });

  test("ContainerStatus verbose: info with the main process and the config; none without verbose", async () => {
    const pod = await runPod(env, "verbose");
    const c = await runContainer(env, pod, containerConfig("verbose"));
    const plain = await containerStatus(env, c.id);
    assert.deepEqual(plain.info, {});
    const verbose = await containerStatus(env, c.id, true);
    const info = JSON.parse(verbose.info.info ?? "{}") as {
      pid?: number;
      sandboxId?: string;
      config?: { metadata?: { name?: string } };
    };
    assert.equal(info.pid, c.pid);
    assert.equal(info.sandboxId, pod.id);
    assert.equal(info.config?.metadata?.name, "verbose");
  });
});
