/**
 * Switching a node from cri-dockerd to berth without restarting its pods (--adopt-cri-dockerd).
 * The suite cannot run cri-dockerd, so test/support/cri-dockerd-fixture.ts makes on the real
 * engine what cri-dockerd makes (compared by hand with real cri-dockerd v0.3.17 on Docker 20.10
 * and 28.5: names, labels, checkpoint bytes and checksums, libcni cache files, log symlinks).
 * Everything carries the label berth.test=adopt and lives on a network of its own
 * (berth-adopt, 10.78.0.0/24), so counts are not disturbed by other tests.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
} from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { criDockerdStillServes } from "../../src/adopt/cri-dockerd-presence.ts";
import { ContainerState, PodSandboxState } from "../../src/gen/runtime/v1/api_pb.js";
import { rfc3339ToNanos } from "../../src/util/time.ts";
import { type BerthProcess, runBerth, startBerth } from "../support/berth-process.ts";
import {
  type CriDockerdNode,
  type MadePod,
  makeCriDockerdPod,
  removeCriDockerdPod,
} from "../support/cri-dockerd-fixture.ts";
import { testDocker } from "../support/docker.ts";
import { DOCKER_HOST } from "../support/engine.ts";
import { loadFixtures } from "../support/fixtures.ts";
import { podConfig } from "../support/pods.ts";
import { forwardOnce, httpBody } from "../support/port-forward-client.ts";
import { openSpdySession } from "../support/remote-command-client.ts";
import { SpdyTestClient } from "../support/spdy-client.ts";

const fx = loadFixtures();
const docker = testDocker();
const NETWORK = "berth-adopt";
const SUBNET = "10.78.0.0/24";
const HOST_PORT = 18000 + (process.pid % 1000);
const LABEL = { "berth.test": "adopt" };

let dir: string;
let node: CriDockerdNode;
let cniDir: string;
let logDir: string;
let web: MadePod;
let hostnet: MadePod;

/** What must be back to its count once the pods are gone. */
async function leftovers() {
  const count = (path: string) => (existsSync(path) ? readdirSync(path).length : 0);
  const nat = execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`name: \\"${NETWORK}\\"`) || line.includes("10.78.0.")).length;
  return {
    containers: (await docker.listContainers({ label: ["berth.test=adopt"] })).length,
    ips:
      count(`/var/lib/cni/networks/${NETWORK}`) > 0
        ? readdirSync(`/var/lib/cni/networks/${NETWORK}`).filter((f) => f.startsWith("10.")).length
        : 0,
    nat,
    criDockerdCheckpoints: count(join(node.rootDir, "sandbox")),
    libcniCache: count(join(node.cniCacheDir, "results")),
    berthCheckpoints: count(join(dir, "berth", "sandboxes")),
    berthCniCache: existsSync(join(dir, "berth", "cni", "results"))
      ? execFileSync("find", [join(dir, "berth", "cni", "results"), "-type", "f"], {
          encoding: "utf8",
        })
          .split("\n")
          .filter(Boolean).length
      : 0,
    netnsPins: count(join(dir, "berth", "netns")),
  };
}

function adoptArgs(): string[] {
  return [
    "--cni-conf-dir",
    cniDir,
    "--pod-infra-container-image",
    fx.pauseImage,
    "--cri-dockerd-root-directory",
    node.rootDir,
    "--cri-dockerd-cni-cache-dir",
    node.cniCacheDir,
    "--cri-dockerd-endpoint",
    `unix://${join(dir, "cri-dockerd.sock")}`,
  ];
}

/** The numbered lines of a CRI log file's stdout, in order. */
function criLines(text: string, prefix: string): number[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const match = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(line);
      assert.ok(match, `a CRI log line: ${line}`);
      return match[4] ?? "";
    })
    .filter((content) => content.startsWith(prefix))
    .map((content) => Number(content.slice(prefix.length)));
}

const consecutive = (numbers: number[]) => numbers.every((n, i) => n === i);

let rotations = 0;

/**
 * The kubelet's log rotation: `0.log` renamed to `0.log.<YYYYMMDD-HHMMSS>` (local time there,
 * one a second at most; here a second apart so names never collide), then ReopenContainerLog.
 */
async function rotate(berth: BerthProcess, containerId: string, logPath: string) {
  const at = new Date(Date.now() + 1000 * rotations++).toISOString();
  const rotated = `${logPath}.${at.replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}`;
  renameSync(logPath, rotated);
  await berth.client.runtime.reopenContainerLog({ containerId });
  return rotated;
}

/** A container's numbered lines across its rotated files, oldest first, and its current one. */
function linesAcross(files: string[], logPath: string, prefix: string): number[] {
  return [...files, logPath].flatMap((file) => criLines(readFileSync(file, "utf8"), prefix));
}

/** Docker's list times are whole seconds: cri-dockerd's lists carry those. */
const wholeSeconds = (rfc3339: string | undefined) =>
  (rfc3339ToNanos(rfc3339) / 1_000_000_000n) * 1_000_000_000n;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let before0: Awaited<ReturnType<typeof leftovers>>;
let skipReason: string | false = false;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-adopt-"));
  cniDir = join(dir, "net.d");
  logDir = join(dir, "pods");
  mkdirSync(cniDir);
  const conflistFile = join(cniDir, "10-berth-adopt.conflist");
  await writeFile(
    conflistFile,
    `${JSON.stringify(
      {
        cniVersion: "1.0.0",
        name: NETWORK,
        plugins: [
          {
            type: "bridge",
            bridge: "berthadopt0",
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: {
              type: "host-local",
              ranges: [[{ subnet: SUBNET }]],
              routes: [{ dst: "0.0.0.0/0" }],
            },
          },
          { type: "portmap", capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    )}\n`,
  );
  node = {
    docker,
    rootDir: join(dir, "cri-dockerd"),
    cniCacheDir: join(dir, "cni-cache"),
    conflistFile,
    binDirs: ["/usr/lib/cni", "/opt/cni/bin"],
    pauseImage: fx.pauseImage,
  };
  const serving = await criDockerdStillServes({
    dockerHost: DOCKER_HOST,
    criDockerdSocket: undefined,
  });
  if (serving) {
    skipReason = `a real cri-dockerd serves this engine (${serving})`;
    return;
  }
  before0 = await leftovers();
  web = await makeCriDockerdPod(node, {
    name: "web",
    namespace: "adopt-ns",
    uid: "uid-web-0001",
    hostname: "web-host",
    labels: { ...LABEL, app: "web", "io.kubernetes.pod.name": "web" },
    annotations: { note: "kept", "kubernetes.io/config.source": "api" },
    portMappings: [{ protocol: "TCP", containerPort: 7070, hostPort: HOST_PORT }],
    logDirectory: join(logDir, "adopt-ns_web_uid-web-0001"),
    containers: [
      {
        name: "one",
        image: fx.images.busybox,
        labels: { ...LABEL, "io.kubernetes.container.name": "one" },
        annotations: { "io.kubernetes.container.restartCount": "0" },
        command: ["sh", "-c", "i=0; while true; do echo one-$i; i=$((i+1)); sleep 0.1; done"],
      },
      {
        name: "http",
        image: fx.images.busybox,
        labels: LABEL,
        command: [
          "sh",
          "-c",
          "mkdir -p /tmp/www && echo pong > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:7070 -h /tmp/www",
        ],
      },
      {
        name: "done",
        image: fx.images.busybox,
        labels: LABEL,
        command: ["sh", "-c", "echo done-out; exit 3"],
      },
      // `kubectl run -it`'s container: stdin and a tty, which cri-dockerd hands to the engine.
      {
        name: "shell",
        image: fx.images.busybox,
        labels: LABEL,
        command: ["sh"],
        stdin: true,
        tty: true,
      },
    ],
  });
  hostnet = await makeCriDockerdPod(node, {
    name: "hostnet",
    namespace: "adopt-ns",
    uid: "uid-hostnet-0001",
    labels: { ...LABEL, app: "hostnet" },
    hostNetwork: true,
    logDirectory: join(logDir, "adopt-ns_hostnet_uid-hostnet-0001"),
    containers: [
      {
        name: "hn",
        image: fx.images.busybox,
        labels: LABEL,
        command: ["sh", "-c", "echo hn-0; exec sleep 3600"],
      },
    ],
  });
  // Some output logged under cri-dockerd, before the switch.
  await waitFor("lines in the json-file log", () => {
    const text = readFileSync(web.containers.one?.logPath ?? "", "utf8");
    return text.split("\n").length > 10 ? true : undefined;
  });
});

after(async () => {
  // Whatever a failure left: the fixture's pods as cri-dockerd would remove them, berth's own.
  const sandboxes = await docker.listContainers({
    label: ["berth.test=adopt", "io.kubernetes.docker.type=podsandbox"],
  });
  for (const { Id } of sandboxes) await removeCriDockerdPod(node, Id);
  for (const { Id } of await docker.listContainers({ label: ["berth.test=adopt"] })) {
    await docker.removeContainer(Id).catch(() => {});
  }
  // berth's namespace pins of a failed run.
  const pins = join(dir, "berth", "netns");
  for (const pin of existsSync(pins) ? readdirSync(pins) : []) {
    spawnSync("umount", [join(pins, pin)]);
  }
  await rm(dir, { recursive: true, force: true });
  await docker.close();
});

describe("adopting cri-dockerd's pods", () => {
  test("without --adopt-cri-dockerd nothing of cri-dockerd's is listed or touched", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth({ rootDir: join(dir, "plain"), args: adoptArgs() });
    try {
      const { items } = await berth.client.runtime.listPodSandbox({});
      assert.ok(!items.some((item) => item.id === web.sandboxId || item.id === hostnet.sandboxId));
      const { containers } = await berth.client.runtime.listContainers({});
      assert.ok(!containers.some((c) => c.podSandboxId === web.sandboxId));
    } finally {
      await berth.stop();
    }
    assert.ok(lstatSync(web.containers.one?.logPath ?? "").isSymbolicLink(), "log link kept");
  });

  test("refused while a cri-dockerd serves the engine or listens on its socket", async (t) => {
    if (skipReason) return t.skip(skipReason);
    // A process named cri-dockerd with the engine on its command line.
    mkdirSync(join(dir, "fake"));
    const fake = join(dir, "fake", "cri-dockerd");
    copyFileSync("/bin/sh", fake);
    const child: ChildProcess = spawn(
      fake,
      ["-c", "sleep 60; :", "cri-dockerd", `--docker-endpoint=${DOCKER_HOST}`],
      {
        stdio: "ignore",
      },
    );
    try {
      await waitFor("the fake cri-dockerd", () =>
        existsSync(`/proc/${child.pid}/comm`) &&
        readFileSync(`/proc/${child.pid}/comm`, "utf8").trim() === "cri-dockerd"
          ? true
          : undefined,
      );
      const refused = runBerth([
        "--listen",
        `unix://${join(dir, "refused.sock")}`,
        "--root-directory",
        join(dir, "refused"),
        "--adopt-cri-dockerd",
        ...adoptArgs(),
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(`--adopt-cri-dockerd refused: cri-dockerd \\(pid ${child.pid}\\) still serves`),
      );
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    const socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(dir, "cri-dockerd.sock"), resolve));
    try {
      const refused = runBerth([
        "--listen",
        `unix://${join(dir, "refused.sock")}`,
        "--root-directory",
        join(dir, "refused"),
        "--adopt-cri-dockerd",
        ...adoptArgs(),
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /cri-dockerd's socket .*cri-dockerd\.sock is still listening/);
    } finally {
      await new Promise((resolve) => socket.close(resolve));
    }
    assert.equal(existsSync(join(dir, "refused", "sandboxes")), false, "nothing adopted");
    assert.ok(lstatSync(web.containers.one?.logPath ?? "").isSymbolicLink(), "log link kept");
  });

  test("the switch: same pods, fully managed, kept across a restart, removed without leftovers", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const one = web.containers.one?.id ?? "";
    const done = web.containers.done?.id ?? "";
    const shell = web.containers.shell?.id ?? "";
    const inspected = new Map<string, Awaited<ReturnType<typeof docker.inspectContainer>>>();
    for (const pod of [web, hostnet]) {
      for (const id of [pod.sandboxId, ...Object.values(pod.containers).map((c) => c.id)]) {
        inspected.set(id, await docker.inspectContainer(id));
      }
    }
    const rootDir = join(dir, "berth");
    let berth = await startBerth({ rootDir, args: ["--adopt-cri-dockerd", ...adoptArgs()] });
    try {
      // The same sandboxes, READY, with cri-dockerd's metadata, labels and annotations.
      const { items } = await berth.client.runtime.listPodSandbox({
        filter: { labelSelector: LABEL },
      });
      assert.deepEqual(items.map((i) => i.id).sort(), [web.sandboxId, hostnet.sandboxId].sort());
      const status = await berth.client.runtime.podSandboxStatus({ podSandboxId: web.sandboxId });
      const s = status.status;
      assert.equal(s?.state, PodSandboxState.SANDBOX_READY);
      assert.deepEqual(
        {
          name: s?.metadata?.name,
          ns: s?.metadata?.namespace,
          uid: s?.metadata?.uid,
          attempt: s?.metadata?.attempt,
        },
        { name: "web", ns: "adopt-ns", uid: "uid-web-0001", attempt: 0 },
      );
      assert.equal(s?.network?.ip, web.ip);
      assert.equal(s?.createdAt, rfc3339ToNanos(inspected.get(web.sandboxId)?.Created));
      assert.equal(s?.labels.app, "web");
      assert.equal(s?.labels["io.kubernetes.docker.type"], undefined);
      assert.equal(s?.labels["io.kubernetes.container.name"], undefined);
      assert.deepEqual(s?.annotations, { note: "kept", "kubernetes.io/config.source": "api" });
      // cri-dockerd's list has Docker's list time, whole seconds; its status the nanoseconds.
      const listedWeb = items.find((item) => item.id === web.sandboxId);
      assert.equal(listedWeb?.createdAt, wholeSeconds(inspected.get(web.sandboxId)?.Created));
      const hn = (await berth.client.runtime.podSandboxStatus({ podSandboxId: hostnet.sandboxId }))
        .status;
      assert.equal(hn?.state, PodSandboxState.SANDBOX_READY);

      // The containers, with their states, times, exit codes and log paths.
      const { containers } = await berth.client.runtime.listContainers({
        filter: { podSandboxId: web.sandboxId },
      });
      assert.equal(containers.length, 4);
      const oneStatus = (await berth.client.runtime.containerStatus({ containerId: one })).status;
      assert.equal(oneStatus?.state, ContainerState.CONTAINER_RUNNING);
      assert.equal(oneStatus?.metadata?.name, "one");
      assert.equal(oneStatus?.startedAt, rfc3339ToNanos(inspected.get(one)?.State.StartedAt));
      assert.equal(oneStatus?.createdAt, rfc3339ToNanos(inspected.get(one)?.Created));
      assert.equal(oneStatus?.logPath, web.containers.one?.logPath);
      assert.deepEqual(oneStatus?.annotations, { "io.kubernetes.container.restartCount": "0" });
      const doneStatus = (await berth.client.runtime.containerStatus({ containerId: done })).status;
      assert.equal(doneStatus?.state, ContainerState.CONTAINER_EXITED);
      assert.equal(doneStatus?.exitCode, 3);
      assert.equal(doneStatus?.reason, "Error");
      // As cri-dockerd reported them: the pod status' imageID (ContainerStatus.image_ref) with
      // dockershim's prefixes, the list's image_ref the bare image ID, list times in seconds.
      const imageId = inspected.get(one)?.Image ?? "";
      const image = await docker.findImage(imageId);
      const digest = image?.RepoDigests?.[0];
      // Its status names the image by its first tag; its list by the name the container has.
      assert.equal(oneStatus?.image?.image, image?.RepoTags?.[0] ?? fx.images.busybox);
      assert.equal(
        oneStatus?.imageRef,
        digest ? `docker-pullable://${digest}` : `docker://${imageId}`,
      );
      assert.equal(oneStatus?.imageId, imageId);
      const listedOne = containers.find((c) => c.id === one);
      assert.equal(listedOne?.imageRef, imageId);
      assert.equal(listedOne?.image?.image, fx.images.busybox);
      assert.equal(listedOne?.createdAt, wholeSeconds(inspected.get(one)?.Created));

      // Exec and port-forward into the adopted pod, stats of its container.
      const exec = await berth.client.runtime.execSync({
        containerId: one,
        cmd: ["echo", "hi"],
        timeout: 10n,
      });
      assert.equal(Buffer.from(exec.stdout).toString(), "hi\n");
      const { url } = await berth.client.runtime.portForward({
        podSandboxId: web.sandboxId,
        port: [7070],
      });
      const client = await SpdyTestClient.connect(url, ["portforward.k8s.io"]);
      try {
        const result = await forwardOnce(client, 7070, 0, "GET / HTTP/1.0\r\n\r\n");
        assert.equal(httpBody(result.data).toString(), "pong\n");
      } finally {
        await client.close();
      }
      const stats = await berth.client.runtime.containerStats({ containerId: one });
      assert.ok((stats.stats?.memory?.workingSetBytes?.value ?? 0n) > 0n, "memory stats");

      // Attach to the adopted container made with stdin and a tty: input reaches its shell,
      // the terminal answers; leaving only detaches.
      const tty = await berth.client.runtime.attach({
        containerId: shell,
        stdin: true,
        stdout: true,
        tty: true,
      });
      const shellSession = await openSpdySession(tty.url, { stdin: true, stdout: true, tty: true });
      await shellSession.stdin?.write("echo attached-$((6*7))\n");
      await waitFor("the shell's answer", () =>
        shellSession.stdout?.text().includes("attached-42") ? true : undefined,
      );
      shellSession.client.destroy();
      // To a plain one (no stdin, no tty): its output; the stdin asked for is not attached
      // (as cri-dockerd and containerd do), a tty with stderr is refused as the CRI says.
      const plain = await berth.client.runtime.attach({
        containerId: one,
        stdin: true,
        stdout: true,
        stderr: true,
      });
      const plainSession = await openSpdySession(plain.url, {
        stdin: true,
        stdout: true,
        stderr: true,
      });
      await plainSession.stdin?.write("ignored\n");
      await waitFor("the plain container's output", () =>
        /one-\d+\n/.test(plainSession.stdout?.text() ?? "") ? true : undefined,
      );
      plainSession.client.destroy();
      await assert.rejects(
        berth.client.runtime.attach({ containerId: one, stdout: true, stderr: true, tty: true }),
        /tty and stderr cannot both be true/,
      );
      await assert.rejects(
        berth.client.runtime.attach({ containerId: done, stdout: true }),
        /is not running/,
      );
      for (const id of [shell, one]) {
        const state = (await berth.client.runtime.containerStatus({ containerId: id })).status;
        assert.equal(state?.state, ContainerState.CONTAINER_RUNNING, `${id} still runs`);
      }

      // The kubelet's log path is now berth's CRI file: everything from before the switch,
      // then the lines after, nothing twice; then kubelet's rotation.
      const logPath = web.containers.one?.logPath ?? "";
      assert.equal(lstatSync(logPath).isFile(), true, "no longer a symlink");
      const firstRun = await waitFor("lines after the switch", () => {
        const numbers = criLines(readFileSync(logPath, "utf8"), "one-");
        return numbers.length > 40 ? numbers : undefined;
      });
      assert.ok(consecutive(firstRun), `one-0.. without gaps or repeats: ${firstRun.join(",")}`);
      const oneRotated = [await rotate(berth, one, logPath)];
      await waitFor("lines after the rotation", () =>
        criLines(readFileSync(logPath, "utf8"), "one-").length > 5 ? true : undefined,
      );
      assert.ok(
        consecutive(linesAcross(oneRotated, logPath, "one-")),
        "nothing lost or repeated across the rotation",
      );
      const doneLog = readFileSync(web.containers.done?.logPath ?? "", "utf8");
      assert.match(doneLog, / stdout F done-out\n$/);

      // A new pod is berth's own, and so is its container.
      const freshConfig = podConfig("fresh", { labels: LABEL });
      const fresh = await berth.client.runtime.runPodSandbox({ config: freshConfig });
      const freshInspect = await docker.inspectContainer(fresh.podSandboxId);
      assert.equal(freshInspect.Config.Labels?.["io.berth.managed"], "true");
      const { containerId: count } = await berth.client.runtime.createContainer({
        podSandboxId: fresh.podSandboxId,
        config: {
          metadata: { name: "count" },
          image: { image: fx.images.busybox },
          command: ["sh", "-c", "i=0; while true; do echo c-$i; i=$((i+1)); sleep 0.1; done"],
          logPath: "count/0.log",
          labels: LABEL,
        },
        sandboxConfig: freshConfig,
      });
      await berth.client.runtime.startContainer({ containerId: count });
      const countLog = join(freshConfig.logDirectory ?? "", "count", "0.log");
      await waitFor("the own container's lines", () =>
        existsSync(countLog) && criLines(readFileSync(countLog, "utf8"), "c-").length > 10
          ? true
          : undefined,
      );
      const freshStatus = (await berth.client.runtime.containerStatus({ containerId: count }))
        .status;
      const freshListed = (await berth.client.runtime.listContainers({ filter: { id: count } }))
        .containers[0];
      assert.equal(freshListed?.createdAt, freshStatus?.createdAt, "own: nanoseconds in lists");
      assert.doesNotMatch(freshStatus?.imageRef ?? "", /^docker(-pullable)?:\/\//);

      // The kubelet rotates, and berth restarts a moment later (without the option): nothing
      // lost or repeated across the rotated files and the new one, adopted or own.
      const countRotated = [await rotate(berth, count, countLog)];
      oneRotated.push(await rotate(berth, one, logPath));
      await waitFor("lines after the second rotation", () =>
        criLines(readFileSync(logPath, "utf8"), "one-").length >= 3 &&
        criLines(readFileSync(countLog, "utf8"), "c-").length >= 3
          ? true
          : undefined,
      );
      await berth.stop({ keepState: true });
      berth = await startBerth({ rootDir, args: adoptArgs() });
      const again = await berth.client.runtime.listPodSandbox({ filter: { labelSelector: LABEL } });
      assert.deepEqual(
        again.items.map((i) => i.id).sort(),
        [web.sandboxId, hostnet.sandboxId, fresh.podSandboxId].sort(),
      );
      const readyAgain = await berth.client.runtime.podSandboxStatus({
        podSandboxId: web.sandboxId,
      });
      assert.equal(readyAgain.status?.state, PodSandboxState.SANDBOX_READY);
      assert.equal(readyAgain.status?.network?.ip, web.ip);
      const writtenBefore = {
        one: linesAcross(oneRotated, logPath, "one-").length,
        count: linesAcross(countRotated, countLog, "c-").length,
      };
      await waitFor("lines after the restart", () =>
        linesAcross(oneRotated, logPath, "one-").length > writtenBefore.one + 30 &&
        linesAcross(countRotated, countLog, "c-").length > writtenBefore.count + 30
          ? true
          : undefined,
      );
      const oneAll = linesAcross(oneRotated, logPath, "one-");
      const countAll = linesAcross(countRotated, countLog, "c-");
      assert.ok(consecutive(oneAll), `adopted: one-0.. without gaps or repeats: ${oneAll}`);
      assert.ok(consecutive(countAll), `own: c-0.. without gaps or repeats: ${countAll}`);

      // No container was restarted, recreated or renamed.
      for (const [id, before] of inspected) {
        const now = await docker.inspectContainer(id);
        assert.equal(now.Name, before.Name);
        assert.equal(now.State.StartedAt, before.State.StartedAt);
        assert.equal(now.RestartCount, before.RestartCount);
      }

      for (const podSandboxId of [web.sandboxId, hostnet.sandboxId, fresh.podSandboxId]) {
        await berth.client.runtime.stopPodSandbox({ podSandboxId });
        await berth.client.runtime.removePodSandbox({ podSandboxId });
      }
    } catch (err) {
      process.stderr.write(berth.output());
      throw err;
    } finally {
      await berth.stop({ keepState: true });
    }
    const now = await leftovers();
    assert.deepEqual(now, before0, "containers, IPs, NAT rules, checkpoints, caches, pins");
  });
});
