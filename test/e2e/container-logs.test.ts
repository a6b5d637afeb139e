import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import type { ContainerCreateBody } from "../../src/docker/types.ts";
import { isErrorKind } from "../../src/errors.ts";
import { CONTAINER_LOG_CONFIG, ContainerLogWriter } from "../../src/logs/container-log-writer.ts";
import { parseTimestamp } from "../../src/logs/cri-log-format.ts";
import { LogManager } from "../../src/logs/log-manager.ts";
import { testDocker } from "../support/docker.ts";
import { loadFixtures } from "../support/fixtures.ts";

const fx = loadFixtures();
const docker = testDocker();
const LABEL = "io.berth.test";
const LINE = /^(\S+) (stdout|stderr) ([PF]) (.*)$/;

/** What the writers log, to check that a normal run warns about nothing. */
const logged: Array<{ level: number; msg: string }> = [];
const logger = pino(
  { level: "debug" },
  new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) {
        if (line.trim() !== "") logged.push(JSON.parse(line));
      }
      done();
    },
  }),
);
const warnings = () => logged.filter((entry) => entry.level >= 40).map((entry) => entry.msg);

let dir: string;
const writers: ContainerLogWriter[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-logs-e2e-"));
});

after(async () => {
  await Promise.all(writers.map((writer) => writer.stop()));
  const left = await docker.listContainers({ label: [`${LABEL}=logs`] });
  await Promise.all(left.map((c) => docker.removeContainer(c.Id)));
  await docker.close();
  await rm(dir, { recursive: true, force: true });
});

async function createContainer(script: string, options: { tty?: boolean } = {}): Promise<string> {
  const body: ContainerCreateBody = {
    Image: fx.images.busybox,
    Cmd: ["sh", "-c", script],
    Tty: options.tty ?? false,
    Labels: { [LABEL]: "logs" },
    HostConfig: { LogConfig: CONTAINER_LOG_CONFIG },
  };
  const { Id } = await docker.createContainer(`berth-test-logs-${randomUUID()}`, body);
  return Id;
}

const startContainer = (id: string) => docker.startContainer(id);

async function waitExit(id: string): Promise<{ StatusCode: number }> {
  let code = -1;
  await waitFor("the container to exit", async () => {
    const inspect = await docker.findContainer(id);
    if (!inspect || inspect.State.Running) return false;
    code = inspect.State.ExitCode;
    return true;
  });
  return { StatusCode: code };
}

const killContainer = (id: string) => docker.killContainer(id, "KILL");

async function startWriter(id: string, path: string): Promise<ContainerLogWriter> {
  const writer = await ContainerLogWriter.start({
    docker: testDocker(),
    containerId: id,
    path,
    logger,
  });
  writers.push(writer);
  return writer;
}

interface Line {
  time: string;
  timestamp: bigint;
  stream: string;
  tag: string;
  text: string;
}

/** Reads a CRI log file; every line must have the kubelet's format. */
async function readLines(path: string): Promise<Line[]> {
  const text = await readFile(path, "latin1");
  if (text === "") return [];
  assert.ok(text.endsWith("\n"), "the file ends with a whole line");
  return text
    .slice(0, -1)
    .split("\n")
    .map((raw) => {
      const m = LINE.exec(raw);
      assert.ok(m, `not a CRI log line: ${JSON.stringify(raw.slice(0, 120))}`);
      const [, time, stream, tag, content] = m as unknown as [
        string,
        string,
        string,
        string,
        string,
      ];
      // RFC3339Nano as Go writes it: UTC, the fraction without trailing zeros.
      assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
      const timestamp = parseTimestamp(time);
      assert.ok(timestamp !== undefined, `bad timestamp ${time}`);
      return { time, timestamp, stream, tag, text: content };
    });
}

/** Timestamps never go back within one stream. */
function assertOrdered(lines: Line[]): void {
  for (const stream of ["stdout", "stderr"]) {
    const stamps = lines.filter((l) => l.stream === stream).map((l) => l.timestamp);
    for (let i = 1; i < stamps.length; i++) {
      assert.ok((stamps[i] as bigint) >= (stamps[i - 1] as bigint), `${stream} goes back at ${i}`);
    }
  }
}

const brief = (lines: Line[]) => lines.map((l) => `${l.stream} ${l.tag} ${l.text}`);

/** The numbers of lines `<prefix> <n>` on one stream, in file order. */
function numbers(lines: Line[], stream: string, prefix: string): number[] {
  return lines
    .filter((l) => l.stream === stream && l.text.startsWith(`${prefix} `))
    .map((l) => Number(l.text.slice(prefix.length + 1)));
}

function assertConsecutive(values: number[], from: number, what: string): void {
  assert.ok(values.length > 0, `${what}: no lines`);
  values.forEach((value, i) => {
    assert.equal(value, from + i, `${what}: line ${i} is ${value}, expected ${from + i}`);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const countLines = async (path: string) =>
  (await readFile(path, "latin1").catch(() => "")).split("\n").length - 1;

/** Prints `out <n>` and `err <n>` every 50 ms, forever. */
const TICKER = 'i=0; while true; do i=$((i+1)); echo "out $i"; echo "err $i" >&2; sleep 0.05; done';

describe("container logs in the CRI format", () => {
  test("a container that exited at once: every byte, though the writer started after", async () => {
    const id = await createContainer("echo hi; echo err >&2; printf 'no newline'; exit 3");
    await startContainer(id);
    assert.equal((await waitExit(id)).StatusCode, 3);
    const path = join(dir, "quick", "ctr", "0.log");
    const writer = await startWriter(id, path);
    assert.equal(await writer.drained(10_000), true);
    assert.equal(writer.outcome, "exited");
    const lines = await readLines(path);
    assertOrdered(lines);
    assert.deepEqual(brief(lines).sort(), [
      "stderr F err",
      "stdout F hi",
      // Output ending without a newline ends with a partial line, as containerd writes it.
      "stdout P no newline",
    ]);
    assert.deepEqual(brief(lines.filter((l) => l.stream === "stdout")), [
      "stdout F hi",
      "stdout P no newline",
    ]);
    // The directories the writer made, and the file, as containerd makes them.
    assert.equal((await stat(join(dir, "quick", "ctr"))).mode & 0o777, 0o755 & ~process.umask());
    assert.equal((await stat(path)).mode & 0o777, 0o640 & ~process.umask());
  });

  test("a writer started before the container: waits for the start, then drains at exit", async () => {
    const id = await createContainer("echo first; sleep 0.2; echo second; exit 0");
    const path = join(dir, "early", "0.log");
    const writer = await startWriter(id, path);
    assert.equal((await stat(path)).size, 0, "the file is there before the container runs");
    await sleep(300);
    assert.equal(writer.outcome, undefined, "still waiting for the container to start");
    await startContainer(id);
    writer.nudge();
    await waitFor("the first line", async () => (await countLines(path)) === 1, 2000);
    await waitExit(id);
    const exited = performance.now();
    assert.equal(await writer.drained(10_000), true);
    logger.info({ ms: performance.now() - exited }, "drained after exit");
    assert.deepEqual(brief(await readLines(path)), ["stdout F first", "stdout F second"]);
  });

  test("lines longer than 16 KiB become P pieces and an F; a last line without newline is P", async () => {
    const id = await createContainer(
      "head -c 40000 /dev/zero | tr '\\0' a; echo; echo after; head -c 20000 /dev/zero | tr '\\0' b >&2",
    );
    const path = join(dir, "long", "0.log");
    const writer = await startWriter(id, path);
    await startContainer(id);
    await waitExit(id);
    assert.equal(await writer.drained(10_000), true);
    const lines = await readLines(path);
    assertOrdered(lines);
    const shape = (stream: string) =>
      lines.filter((l) => l.stream === stream).map((l) => `${l.tag}${l.text.length}`);
    assert.deepEqual(shape("stdout"), ["P16384", "P16384", "F7232", "F5"]);
    assert.deepEqual(shape("stderr"), ["P16384", "P3616"]);
    // The pieces of one line share the time its first piece was logged.
    const aPieces = lines.filter((l) => /^a+$/.test(l.text));
    assert.equal(new Set(aPieces.map((l) => l.time)).size, 1);
    assert.equal(aPieces.map((l) => l.text).join(""), "a".repeat(40000));
  });

  test("a TTY container: one stream, stdout, its \\r\\n endings as line ends", async () => {
    const id = await createContainer(
      "echo one; echo two >&2; head -c 20000 /dev/zero | tr '\\0' c; echo; printf three",
      { tty: true },
    );
    const path = join(dir, "tty", "0.log");
    const writer = await startWriter(id, path);
    await startContainer(id);
    await waitExit(id);
    assert.equal(await writer.drained(10_000), true);
    const lines = await readLines(path);
    assertOrdered(lines);
    assert.deepEqual(
      lines.map((l) => `${l.stream} ${l.tag} ${l.text.length > 20 ? l.text.length : l.text}`),
      ["stdout F one", "stdout F two", "stdout P 16384", "stdout F 3616", "stdout P three"],
    );
  });

  test("a berth restart mid-stream: the new writer resumes with no line lost or repeated", async () => {
    const id = await createContainer(TICKER);
    const path = join(dir, "restart", "0.log");
    await startContainer(id);
    const first = await startWriter(id, path);
    await waitFor("lines from the first writer", async () => (await countLines(path)) >= 20);
    await first.stop();
    assert.equal(first.outcome, "stopped");
    const stoppedAt = await countLines(path);
    // The container goes on printing while no writer follows it.
    await sleep(700);
    assert.equal(await countLines(path), stoppedAt, "a stopped writer writes nothing");
    const second = await startWriter(id, path);
    await waitFor(
      "lines from the second writer",
      async () => (await countLines(path)) >= stoppedAt + 40,
    );
    await killContainer(id);
    assert.equal(await second.drained(10_000), true);
    const lines = await readLines(path);
    assertOrdered(lines);
    const out = numbers(lines, "stdout", "out");
    const err = numbers(lines, "stderr", "err");
    assertConsecutive(out, 1, "stdout");
    assertConsecutive(err, 1, "stderr");
    assert.equal(out.length + err.length, lines.length);
    assert.ok(Math.abs(out.length - err.length) <= 1);

    // Once more after the exit, as after another berth restart: nothing to add.
    const size = (await stat(path)).size;
    const third = await startWriter(id, path);
    assert.equal(await third.drained(10_000), true);
    assert.equal((await stat(path)).size, size);
    assert.deepEqual(warnings(), []);
  });

  test("resuming a file cut after any line, pieces of one long line included, completes it exactly", async () => {
    const id = await createContainer(
      "head -c 40000 /dev/zero | tr '\\0' a; echo; echo err >&2; echo after; printf end",
    );
    await startContainer(id);
    await waitExit(id);
    const fullPath = join(dir, "cut", "full.log");
    const first = await startWriter(id, fullPath);
    assert.equal(await first.drained(10_000), true);
    const full = await readFile(fullPath);
    const lines = full.toString("latin1").split("\n").slice(0, -1);
    assert.equal(lines.length, 6);
    // The three pieces of the long line share one timestamp: only counting tells them apart.
    const pieces = lines.filter((l) => l.endsWith("aaaa"));
    assert.equal(pieces.length, 3);
    assert.equal(new Set(pieces.map((l) => l.split(" ")[0])).size, 1);
    for (let cut = 0; cut <= lines.length; cut++) {
      const path = join(dir, "cut", `${cut}.log`);
      const kept = lines
        .slice(0, cut)
        .map((l) => `${l}\n`)
        .join("");
      await writeFile(path, Buffer.from(kept, "latin1"));
      const writer = await startWriter(id, path);
      assert.equal(await writer.drained(10_000), true);
      assert.deepEqual(await readFile(path), full, `resumed after ${cut} lines`);
    }
  });

  test("a burst larger than the engine's log file: all of it, though the engine rotated under the stream", async () => {
    // 200000 lines make about 15 MB of json-file: the engine rotates its 10 MB file while the
    // writer still reads it, and Docker 20.10 ends the follow at exit without the new file.
    const id = await createContainer("seq 1 200000");
    const path = join(dir, "burst", "0.log");
    const writer = await startWriter(id, path);
    await startContainer(id);
    await waitExit(id);
    assert.equal(await writer.drained(30_000), true);
    const lines = await readLines(path);
    assertConsecutive(
      lines.map((l) => Number(l.text)),
      1,
      "stdout",
    );
    assert.equal(lines.length, 200000);
  });

  test("ReopenContainerLog after the kubelet renamed the file: old lines stay, new ones go to a new file", async () => {
    const id = await createContainer(TICKER);
    const path = join(dir, "reopen", "0.log");
    const rotated = `${path}.20240101-000000`;
    await startContainer(id);
    const writer = await startWriter(id, path);
    await waitFor("first lines", async () => (await countLines(path)) >= 10);
    await rename(path, rotated);
    // Until the reopen, lines still go to the renamed file, as they do with containerd.
    await sleep(200);
    await writer.reopen();
    await waitFor("lines in the new file", async () => (await countLines(path)) >= 10);
    await killContainer(id);
    assert.equal(await writer.drained(10_000), true);
    await assert.rejects(writer.reopen(), (err) => isErrorKind(err, "FailedPrecondition"));

    const before = await readLines(rotated);
    const afterReopen = await readLines(path);
    for (const stream of ["stdout", "stderr"]) {
      const prefix = stream === "stdout" ? "out" : "err";
      const old = numbers(before, stream, prefix);
      const fresh = numbers(afterReopen, stream, prefix);
      assertConsecutive(old, 1, `${stream} before the reopen`);
      assertConsecutive(fresh, old.length + 1, `${stream} after the reopen`);
    }
    assert.deepEqual(warnings(), []);
  });

  test("a writer for a container removed under it ends as removed", async () => {
    const id = await createContainer(TICKER);
    const path = join(dir, "removed", "0.log");
    await startContainer(id);
    const writer = await startWriter(id, path);
    await waitFor("some lines", async () => (await countLines(path)) >= 4);
    await docker.removeContainer(id);
    assert.equal(await writer.drained(10_000), true);
    assert.equal(writer.outcome, "removed");
  });

  test("LogManager: one writer per container, reopen, drained and stop by id", async () => {
    const logsDocker = testDocker();
    const manager = new LogManager({ docker: logsDocker, logger });
    const id = await createContainer("echo one; sleep 30");
    const path = join(dir, "manager", "0.log");
    await startContainer(id);
    const writer = await manager.start(id, path);
    assert.equal(await manager.start(id, path), writer, "started once");
    assert.equal(await manager.get(id), writer);
    await waitFor("the line", async () => (await countLines(path)) === 1);
    await manager.reopen(id);
    assert.equal(await manager.drained(id, 100), false, "still running");
    await killContainer(id);
    assert.equal(await manager.drained(id, 10_000), true);
    assert.equal(await manager.drained("no-such-container", 10), true);
    await assert.rejects(manager.reopen("no-such-container"), (err) =>
      isErrorKind(err, "NotFound"),
    );
    await manager.stop(id);
    assert.equal(await manager.get(id), undefined);
    // A log path that cannot be a file fails the start (StartContainer should fail with it).
    await assert.rejects(manager.start("other", dir), (err) => isErrorKind(err, "Internal"));
    assert.equal(await manager.get("other"), undefined);
    await manager.stopAll();
    await assert.rejects(manager.start(id, path), (err) => isErrorKind(err, "FailedPrecondition"));
    await logsDocker.close();
  });
});
