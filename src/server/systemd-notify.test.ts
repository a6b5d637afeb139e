import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import { SystemdNotifier } from "./systemd-notify.ts";

const log = pino({ level: "silent" });

describe("SystemdNotifier.fromEnvironment", () => {
  test("no NOTIFY_SOCKET: no notifier; WATCHDOG_* are unset all the same", () => {
    const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: "1000", WATCHDOG_PID: "7", PATH: "/bin" };
    assert.equal(SystemdNotifier.fromEnvironment(log, env, 7), undefined);
    assert.deepEqual(env, { PATH: "/bin" });
  });

  test("NOTIFY_SOCKET and the watchdog for this pid; children see none of them", () => {
    const env: NodeJS.ProcessEnv = {
      NOTIFY_SOCKET: "/run/systemd/notify",
      WATCHDOG_USEC: "30000000",
      WATCHDOG_PID: "7",
    };
    const notifier = SystemdNotifier.fromEnvironment(log, env, 7);
    assert.equal(notifier?.watchdogMs, 30_000);
    assert.deepEqual(env, {});
  });

  test("a watchdog for another pid, or none, is not kept", () => {
    const other = { NOTIFY_SOCKET: "@n", WATCHDOG_USEC: "1000000", WATCHDOG_PID: "8" };
    assert.equal(SystemdNotifier.fromEnvironment(log, other, 7)?.watchdogMs, undefined);
    const absentPid = { NOTIFY_SOCKET: "@n", WATCHDOG_USEC: "1000000" };
    assert.equal(SystemdNotifier.fromEnvironment(log, absentPid, 7)?.watchdogMs, 1000);
    const bad = { NOTIFY_SOCKET: "@n", WATCHDOG_USEC: "soon" };
    assert.equal(SystemdNotifier.fromEnvironment(log, bad, 7)?.watchdogMs, undefined);
  });

  test("a missing systemd-notify is logged, not thrown", async () => {
    const lines: string[] = [];
    const warnings = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
    const notifier = SystemdNotifier.fromEnvironment(
      warnings,
      { NOTIFY_SOCKET: "@n" },
      7,
      "/nonexistent/systemd-notify",
    );
    await notifier?.notify("READY=1");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /cannot run \/nonexistent\/systemd-notify to notify systemd/);
  });
});
