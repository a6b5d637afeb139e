import assert from "node:assert/strict";
import { renameSync, statSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { ContainerState } from "../../src/gen/runtime/v1/api_pb.js";
import { parseTimestamp } from "../../src/logs/cri-log-format.ts";
import {
  type ContainerEnv,
  type CriLine,
  containerConfig,
  containerStatus,
  createContainer,
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
import { expectCode } from "../support/grpc.ts";

/**
 * The CRI log files berth writes for containers, read as the kubelet reads them, through the
 * whole path: CreateContainer's log_path, StartContainer, ContainerStatus, ReopenContainerLog
 * and a berth restart. (test/e2e/container-logs.test.ts tests the writer on its own.)
 */

let env: ContainerEnv;
let pod: Pod;

before(async () => {
  env = await startContainerEnv();
  pod = await runPod(env, "logs");
});

after(async () => {
  await env.close();
});

const brief = (lines: CriLine[]) => lines.map((l) => `${l.stream} ${l.tag} ${l.text}`);

function assertOrdered(lines: CriLine[]): void {
  for (const stream of ["stdout", "stderr"]) {
    const ofStream = lines.filter((l) => l.stream === stream);
    const stamps = ofStream.map((l) => parseTimestamp(l.time) as bigint);
    for (let i = 1; i < stamps.length; i++) {
      assert.ok(
        (stamps[i] as bigint) >= (stamps[i - 1] as bigint),
        `${stream} goes back at ${i}: ${JSON.stringify(brief(ofStream.slice(Math.max(0, i - 3), i + 3)))} ${JSON.stringify(ofStream.slice(Math.max(0, i - 3), i + 3).map((l) => l.time))}`,
      );
    }
  }
}

/** Numbers of the lines "<prefix> <n>" of one stream, in file order. */
function numbers(lines: CriLine[], stream: string, prefix: string): number[] {
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

/** Prints "out <n>" and "err <n>" every 50 ms until stopped. */
const TICKER =
  'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo "out $i"; echo "err $i" >&2; sleep 0.05; done';

describe("CRI log files through berth", () => {
  test("the kubelet's format: timestamp, stream, tag, content; stdout and stderr; partial last line", async () => {
    const before = nowNs();
    const { container, status: s } = await outputOf(
      env,
      pod,
      "format",
      "echo hello; echo oops >&2; printf 'a  b\\ttab\\n'; echo; printf 'no newline'",
    );
    assert.equal(s.logPath, container.logPath);
    const lines = readCriLog(container.logPath);
    assertOrdered(lines);
    assert.deepEqual(brief(lines.filter((l) => l.stream === "stdout")), [
      "stdout F hello",
      "stdout F a  b\ttab",
      "stdout F ",
      "stdout P no newline",
    ]);
    assert.deepEqual(brief(lines.filter((l) => l.stream === "stderr")), ["stderr F oops"]);
    for (const line of lines) {
      const at = parseTimestamp(line.time) as bigint;
      assert.ok(at >= before - 5_000_000_000n && at <= nowNs(), `a current time: ${line.time}`);
    }
    assert.equal(statSync(container.logPath).mode & 0o777, 0o640 & ~process.umask());
  });

  test("lines longer than 16 KiB: P pieces then F, joined back exactly", async () => {
    const { container } = await outputOf(
      env,
      pod,
      "long",
      "head -c 40000 /dev/zero | tr '\\0' a; echo; echo after; head -c 20000 /dev/zero | tr '\\0' b >&2; echo >&2",
    );
    const lines = readCriLog(container.logPath);
    const shape = (stream: string) =>
      lines.filter((l) => l.stream === stream).map((l) => `${l.tag}${l.text.length}`);
    assert.deepEqual(shape("stdout"), ["P16384", "P16384", "F7232", "F5"]);
    assert.deepEqual(shape("stderr"), ["P16384", "F3616"]);
    const a = lines.filter((l) => l.stream === "stdout" && /^a+$/.test(l.text));
    assert.ok(a.map((l) => l.text).join("") === "a".repeat(40000), "the pieces join to the line");
    assert.equal(new Set(a.map((l) => l.time)).size, 1, "the pieces share the line's time");
  });

  test("a TTY container: one stream, stdout, its line ends as F lines", async () => {
    const { container } = await outputOf(env, pod, "tty", "echo one; echo two >&2; printf three", {
      tty: true,
    });
    assert.deepEqual(brief(readCriLog(container.logPath)), [
      "stdout F one",
      "stdout F two",
      "stdout P three",
    ]);
  });

  test("the file is complete when ContainerStatus first reports EXITED", async () => {
    const count = 3000;
    const containers = await Promise.all(
      [0, 1, 2].map((i) =>
        createContainer(
          env,
          pod,
          containerConfig(`quick-${i}`, {
            command: ["sh", "-c", `seq 1 ${count}; seq 1 ${count} >&2`],
          }),
        ),
      ),
    );
    await Promise.all(
      containers.map(async (c) => {
        await env.berth.client.runtime.startContainer({ containerId: c.id });
        for (;;) {
          const s = await containerStatus(env, c.id);
          if (s.state === ContainerState.CONTAINER_EXITED) break;
          await sleep(5);
        }
        // Read at once, as the kubelet would.
        const lines = readCriLog(c.logPath);
        for (const stream of ["stdout", "stderr"] as const) {
          assertConsecutive(
            lines.filter((l) => l.stream === stream).map((l) => Number(l.text)),
            1,
            `${c.config.metadata?.name} ${stream}`,
          );
          assert.equal(lines.filter((l) => l.stream === stream).length, count);
        }
      }),
    );
  });

  test("ReopenContainerLog after the kubelet renamed the file: no line lost or repeated; refused once exited", async () => {
    const c = await runContainer(
      env,
      pod,
      containerConfig("rotated", { command: ["sh", "-c", TICKER] }),
    );
    const rotated = `${c.logPath}.20240101-000000`;
    await waitFor("first lines", () => readCriLog(c.logPath).length >= 10);
    renameSync(c.logPath, rotated);
    await sleep(150);
    await env.berth.client.runtime.reopenContainerLog({ containerId: c.id });
    await waitFor("lines in the new file", () => readCriLog(c.logPath).length >= 10);
    await env.berth.client.runtime.stopContainer({ containerId: c.id, timeout: 10n });
    await waitForState(env, c.id);
    const old = readCriLog(rotated);
    const fresh = readCriLog(c.logPath);
    for (const [stream, prefix] of [
      ["stdout", "out"],
      ["stderr", "err"],
    ] as const) {
      const before = numbers(old, stream, prefix);
      const afterReopen = numbers(fresh, stream, prefix);
      assertConsecutive(before, 1, `${stream} before the reopen`);
      assertConsecutive(afterReopen, before.length + 1, `${stream} after the reopen`);
    }
    await expectCode(
      env.berth.client.runtime.reopenContainerLog({ containerId: c.id }),
      status.FAILED_PRECONDITION,
    );
  });

  test("berth restarts (graceful and crash): no line lost or repeated, also of a container that exited meanwhile", async () => {
    const ticker = await runContainer(
      env,
      pod,
      containerConfig("ticker", { command: ["sh", "-c", TICKER] }),
    );
    await waitFor("lines before the restart", () => readCriLog(ticker.logPath).length >= 10);
    // Prints its lines and exits while berth is down.
    const late = await runContainer(
      env,
      pod,
      containerConfig("late", { command: ["sh", "-c", "sleep 0.5; seq 1 500; echo end >&2"] }),
    );
    const beforeRestart = readCriLog(ticker.logPath).length;
    const statusBefore = await containerStatus(env, ticker.id);
    await env.restart({ downMs: 1500 });
    // The restarted berth knows the container as it was.
    const statusAfter = await containerStatus(env, ticker.id);
    assert.equal(statusAfter.state, ContainerState.CONTAINER_RUNNING);
    for (const field of ["createdAt", "startedAt", "logPath", "imageRef", "imageId"] as const) {
      assert.equal(statusAfter[field], statusBefore[field], field);
    }
    assert.deepEqual(statusAfter.labels, statusBefore.labels);
    assert.deepEqual(statusAfter.metadata, statusBefore.metadata);
    assert.equal(statusAfter.image?.image, statusBefore.image?.image);
    await waitFor(
      "lines after the restart",
      () => readCriLog(ticker.logPath).length >= beforeRestart + 80,
    );
    const lateStatus = await waitForState(env, late.id);
    assert.equal(lateStatus.exitCode, 0);
    const lateLines = readCriLog(late.logPath);
    assertConsecutive(
      lateLines.filter((l) => l.stream === "stdout").map((l) => Number(l.text)),
      1,
      "late stdout",
    );
    assert.equal(lateLines.filter((l) => l.stream === "stdout").length, 500);
    assert.deepEqual(brief(lateLines.filter((l) => l.stream === "stderr")), ["stderr F end"]);

    const beforeCrash = readCriLog(ticker.logPath).length;
    await env.restart({ crash: true, downMs: 500 });
    await waitFor(
      "lines after the crash",
      () => readCriLog(ticker.logPath).length >= beforeCrash + 20,
    );
    await env.berth.client.runtime.stopContainer({ containerId: ticker.id, timeout: 10n });
    await waitForState(env, ticker.id);
    const lines = readCriLog(ticker.logPath);
    assertOrdered(lines);
    const out = numbers(lines, "stdout", "out");
    const err = numbers(lines, "stderr", "err");
    assertConsecutive(out, 1, "stdout");
    assertConsecutive(err, 1, "stderr");
    assert.equal(out.length + err.length, lines.length, "nothing else in the file");
  });
});
