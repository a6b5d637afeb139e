import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, test } from "node:test";
import { toJsonString } from "@bufbuild/protobuf";
import { pino } from "pino";
import { containerConfig, podConfig } from "../../test/support/cri-requests.ts";
import { FakeEngine } from "../../test/support/fake-engine.ts";
import { networkState } from "../../test/support/store-records.ts";
import type { DockerEngine } from "../docker/engine.ts";
import { ContainerConfigSchema, PodSandboxConfigSchema } from "../gen/runtime/v1/api_pb.js";
import { eventStreamResyncs } from "../metrics/instruments.ts";
import { DockerSync } from "./docker-sync.ts";
import { berthLabels, LABEL_SANDBOX_ID } from "./labels.ts";
import { SandboxCheckpoints } from "./sandbox-checkpoint.ts";
import { StartFailures } from "./start-failures.ts";
import { StateStore, type StoreChange } from "./state-store.ts";

const log = pino({ level: "silent" });
const INSTANCE = "0123456789abcdef";
let root: string;
let engine: FakeEngine;
let store: StateStore;
let checkpoints: SandboxCheckpoints;
let startFailures: StartFailures;
let sync: DockerSync;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-sync-"));
  engine = new FakeEngine();
  engine.addImage(["pause:1"]);
  store = new StateStore();
  checkpoints = new SandboxCheckpoints(root, log);
  startFailures = new StartFailures(root);
  sync = new DockerSync(engine, store, checkpoints, INSTANCE, log, startFailures);
});
afterEach(async () => {
  await sync.stop();
  await rm(root, { recursive: true, force: true });
});

async function sandboxContainer(name: string, instance = INSTANCE): Promise<string> {
  const labels = berthLabels({
    kind: "sandbox",
    instance,
    configJson: toJsonString(PodSandboxConfigSchema, podConfig(name)),
    criLabels: {},
    extra: {},
  });
  const { Id } = await engine.createContainer(`k8s_POD_${name}`, {
    Image: "pause:1",
    Labels: labels,
  });
  await engine.startContainer(Id);
  return Id;
}

async function appContainer(sandboxId: string, name: string): Promise<string> {
  const labels = berthLabels({
    kind: "container",
    instance: INSTANCE,
    configJson: toJsonString(ContainerConfigSchema, containerConfig(name, "pause:1")),
    criLabels: {},
    extra: { [LABEL_SANDBOX_ID]: sandboxId },
  });
  const { Id } = await engine.createContainer(`k8s_${name}`, { Image: "pause:1", Labels: labels });
  return Id;
}

/** Waits (a few ms at a time, up to 2 s) until the condition holds. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`never happened: ${what}`);
}

describe("DockerSync.rebuild", () => {
  test("from this instance's labels and checkpoints, orphans included", async () => {
    const pod = await sandboxContainer("web");
    const app = await appContainer(pod, "app");
    await sandboxContainer("theirs", "fedcba9876543210");
    await engine.createContainer("not-berth", { Image: "pause:1", Labels: { a: "b" } });
    await checkpoints.write(pod, networkState({ ips: ["10.88.0.5"] }));
    const lost = "d".repeat(64);
    await checkpoints.write(lost, networkState());

    assert.equal(await sync.rebuild(), 3);
    assert.deepEqual(store.sandbox(pod)?.network?.ips, ["10.88.0.5"]);
    assert.equal(store.sandbox(pod)?.process.status, "running");
    assert.equal(store.container(app)?.sandboxId, pod);
    assert.equal(store.container(app)?.process.status, "created");
    const orphan = store.sandbox(lost);
    assert.equal(orphan?.process.status, "gone");
    assert.equal(orphan?.name, "k8s_POD_web_default_uid-web_0");
    assert.equal(orphan?.config.metadata?.name, "web");
    assert.equal(store.size.sandboxes, 2, "the other instance's sandbox is not adopted");
  });

  test("a refresh of another instance's container records nothing", async () => {
    const theirs = await sandboxContainer("theirs", "fedcba9876543210");
    await sync.refresh(theirs);
    assert.equal(store.sandbox(theirs), undefined);
    assert.equal(store.size.sandboxes, 0);
  });

  test("records of containers removed meanwhile are dropped, with a delete change", async () => {
    const pod = await sandboxContainer("web");
    await sync.rebuild();
    engine.containers.delete(pod);
    const changes: StoreChange[] = [];
    store.subscribe((change) => changes.push(change));
    assert.equal(await sync.rebuild(), 0);
    assert.deepEqual(
      changes.map((change) => change.type),
      ["delete"],
    );
  });

  test("a created container carries its recorded start failure", async () => {
    const pod = await sandboxContainer("web");
    const app = await appContainer(pod, "app");
    await startFailures.record(app, "cannot open the log file");
    await sync.rebuild();
    assert.equal(store.container(app)?.process.error, "cannot open the log file");
  });
});

describe("DockerSync.refresh", () => {
  test("a container gone with a checkpoint becomes an orphan; without one it is deleted", async () => {
    const pod = await sandboxContainer("web");
    const app = await appContainer(pod, "app");
    await checkpoints.write(pod, networkState());
    await sync.rebuild();
    engine.containers.delete(pod);
    engine.containers.delete(app);
    const entry = await sync.refresh(pod);
    assert.equal(entry?.kind === "sandbox" && entry.record.process.status, "gone");
    assert.equal(store.sandbox(pod)?.process.status, "gone");
    assert.equal(await sync.refresh(app), undefined);
    assert.equal(store.container(app), undefined);
  });

  test("refreshes of one id apply in call order: an older answer never overwrites a newer", async () => {
    const pod = await sandboxContainer("web");
    await sync.rebuild();
    const release = engine.holdNextFind();
    const first = sync.refresh(pod); // sees "running", answers late
    await eventually(() => engine.count("findContainer", pod) >= 2, "first refresh in flight");
    engine.setExited(pod, 0);
    const second = sync.refresh(pod); // must wait for the first
    release();
    await Promise.all([first, second]);
    assert.equal(store.sandbox(pod)?.process.status, "exited");
  });
});

describe("DockerSync.saveNetwork and forget", () => {
  test("saveNetwork persists first, then announces exactly one change", async () => {
    const pod = await sandboxContainer("web");
    await sync.rebuild();
    const file = join(root, "sandboxes", `${pod}.json`);
    const changes: StoreChange[] = [];
    const onDisk: boolean[] = [];
    store.subscribe((change) => {
      changes.push(change);
      onDisk.push(existsSync(file) && readFileSync(file, "utf8").includes("10.88.0.7"));
    });
    await sync.saveNetwork(pod, networkState({ ips: ["10.88.0.7"] }));
    assert.equal(changes.length, 1);
    assert.deepEqual(onDisk, [true], "on disk when the change is announced");
    assert.deepEqual(store.sandbox(pod)?.network?.ips, ["10.88.0.7"]);
    assert.deepEqual((await new SandboxCheckpoints(root, log).read(pod))?.ips, ["10.88.0.7"]);
  });

  test("saveNetwork of a sandbox the store lacks only persists", async () => {
    const id = "a".repeat(64);
    let changes = 0;
    store.subscribe(() => changes++);
    await sync.saveNetwork(id, networkState());
    assert.equal(changes, 0);
    assert.ok(await new SandboxCheckpoints(root, log).read(id));
  });

  test("forget removes checkpoint and record", async () => {
    const pod = await sandboxContainer("web");
    await checkpoints.write(pod, networkState());
    await sync.rebuild();
    await sync.forget(pod);
    assert.equal(store.sandbox(pod), undefined);
    assert.equal(existsSync(join(root, "sandboxes", `${pod}.json`)), false);
    // Gone from the engine too: a later refresh must not bring it back as an orphan.
    engine.containers.delete(pod);
    await sync.refresh(pod);
    assert.equal(store.sandbox(pod), undefined);
  });
});

describe("DockerSync following events", () => {
  test("rebuilds when the stream opens, refreshes on events, resyncs when it ends", async () => {
    const pod = await sandboxContainer("web");
    sync.start();
    await eventually(() => store.sandbox(pod) !== undefined, "initial rebuild");
    assert.equal(engine.openEventStreams, 1);

    engine.setExited(pod, 137);
    engine.pushEvent({ Action: "die", id: pod });
    await eventually(() => store.sandbox(pod)?.process.status === "exited", "refresh on die");

    const app = await appContainer(pod, "app");
    engine.pushEvent({ Action: "exec_start: sh", id: app });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(store.container(app), undefined, "events that change no state are ignored");

    engine.containers.delete(app);
    const other = await sandboxContainer("other");
    engine.endEvents();
    await eventually(() => store.sandbox(other) !== undefined, "resync after the stream ended");

    engine.containers.delete(other);
    engine.pushEvent({ Action: "destroy", id: other });
    await eventually(() => store.sandbox(other) === undefined, "refresh on destroy");
  });
});

async function resyncs(): Promise<number> {
  return (await eventStreamResyncs.get()).values[0]?.value ?? 0;
}

test("a rebuild after the event stream ended counts as a resync; the first one does not", async () => {
  const root = mkdtempSync(join(tmpdir(), "berth-sync-"));
  const streams: PassThrough[] = [];
  let rebuilds = 0;
  let bothStreamsOpen: () => void = () => {};
  const reopened = new Promise<void>((resolve) => {
    bothStreamsOpen = resolve;
  });
  // Only what following the events touches: an event stream per call, an empty container list.
  const engine = {
    events: async () => {
      const stream = new PassThrough();
      streams.push(stream);
      if (streams.length === 2) bothStreamsOpen();
      return stream;
    },
    listContainers: async () => {
      rebuilds++;
      return [];
    },
  } as unknown as DockerEngine;
  const log = pino({ level: "silent" });
  const sync = new DockerSync(
    engine,
    new StateStore(),
    new SandboxCheckpoints(root, log),
    "t",
    log,
  );
  const before = await resyncs();
  try {
    sync.start();
    while (rebuilds < 1) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await resyncs(), before, "the start-up rebuild is no resync");
    streams[0]?.end(); // the engine ended the stream (a restart, say)
    await reopened;
    // Counted once that rebuild is done, which takes a few turns after its list call.
    const deadline = Date.now() + 5_000;
    while ((await resyncs()) === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(rebuilds, 2);
    assert.equal(await resyncs(), before + 1);
  } finally {
    const stopping = sync.stop();
    for (const stream of streams) stream.end();
    await stopping;
    rmSync(root, { recursive: true, force: true });
  }
});
