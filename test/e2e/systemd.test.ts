import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startBerth } from "../support/berth-process.ts";
import { bindNotifySocket, python3Available } from "../support/notify-socket.ts";
import { podConfig } from "../support/pods.ts";

const haveSocketActivate =
  spawnSync("systemd-socket-activate", ["--version"], { stdio: "ignore" }).status === 0;
const haveNotify = spawnSync("systemd-notify", ["--version"], { stdio: "ignore" }).status === 0;
const skipActivation = haveSocketActivate
  ? false
  : "systemd-socket-activate is missing (Debian package systemd)";
const skipNotify = !haveNotify
  ? "systemd-notify is missing (Debian package systemd)"
  : !python3Available()
    ? "python3 is missing: it binds the receiving datagram socket"
    : false;

/** cri-dockerd's packaging/systemd/cri-docker.service (v0.3 and v0.4): its ExecStart flags. */
const CRI_DOCKER_SERVICE_FLAGS = ["--container-runtime-endpoint", "fd://"];

describe("systemd: socket activation and sd_notify", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "berth-systemd-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("serves CRI on the socket systemd-socket-activate passes (fd://)", {
    skip: skipActivation,
  }, async () => {
    const berth = await startBerth({ socketActivated: {} });
    try {
      const version = await berth.client.runtime.version({});
      assert.equal(version.runtimeName, "docker");
      assert.match(berth.output(), /"listen":"fd:\/\/","fd":3,"msg":"serving CRI"/);
      // The passed socket is close-on-exec: CNI plugins and helpers do not inherit it.
      const flags = /^flags:\s+(\d+)$/m.exec(
        readFileSync(`/proc/${berth.child.pid}/fdinfo/3`, "utf8"),
      )?.[1];
      assert.ok(flags && (Number.parseInt(flags, 8) & 0o2000000) !== 0, `fd 3 flags ${flags}`);
    } finally {
      const socket = berth.socket;
      assert.equal(await berth.stop({ keepState: true }), 0);
      // systemd owns the socket's path: berth leaves it alone.
      assert.ok(existsSync(socket), "the activated socket was removed by berth");
      rmSync(join(socket, ".."), { recursive: true, force: true });
    }
  });

  test("fd://NAME picks the socket by its FileDescriptorName; an unknown name is refused", {
    skip: skipActivation,
  }, async () => {
    const named = await startBerth({ socketActivated: { fdName: "cri", endpoint: "fd://cri" } });
    try {
      assert.equal((await named.client.runtime.version({})).runtimeName, "docker");
    } finally {
      await named.stop();
    }
    const wrong = await startBerth({
      socketActivated: { fdName: "cri", endpoint: "fd://other" },
      noWait: true,
    });
    // systemd-socket-activate execs berth on the first connection.
    wrong.client.runtime.version({}, { timeoutMs: 3000 }).catch(() => {});
    assert.equal(await wrong.exited, 1);
    assert.match(
      wrong.output(),
      /fd:\/\/other: systemd passed no socket named other \(passed: cri\)/,
    );
    await wrong.stop();
  });

  test("fd:// without a passed socket exits with a clear message", async () => {
    const berth = await startBerth({
      args: ["--container-runtime-endpoint", "fd://"],
      noWait: true,
    });
    assert.equal(await berth.exited, 1);
    assert.match(berth.output(), /fd:\/\/: no socket was passed \(LISTEN_FDS\/LISTEN_PID unset/);
    await berth.stop();
  });

  test("cri-docker.service's exact ExecStart flags, under socket activation", {
    skip: skipActivation,
  }, async () => {
    for (const flags of [
      CRI_DOCKER_SERVICE_FLAGS,
      // The variant install guides put in the same unit.
      [
        ...CRI_DOCKER_SERVICE_FLAGS,
        "--network-plugin=cni",
        "--pod-infra-container-image=registry.k8s.io/pause:3.10",
      ],
    ]) {
      const root = join(dir, `root-${flags.length}`);
      // The unit's flags first and as they are; the root directory keeps the test's pods
      // apart from a berth the machine may run.
      const berth = await startBerth({
        socketActivated: {},
        onlyArgs: true,
        args: [...flags, "--root-directory", root],
      });
      try {
        const version = await berth.client.runtime.version({});
        assert.equal(version.runtimeName, "docker", flags.join(" "));
        const status = await berth.client.runtime.status({ verbose: true });
        assert.ok(status.status?.conditions.some((c) => c.type === "RuntimeReady"));
      } finally {
        assert.equal(await berth.stop(), 0);
      }
    }
  });

  test("SIGHUP (cri-docker.service's ExecReload) keeps berth serving", async () => {
    const berth = await startBerth();
    try {
      berth.child.kill("SIGHUP");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(berth.child.exitCode, null);
      assert.equal((await berth.client.runtime.version({})).runtimeName, "docker");
      assert.match(berth.output(), /SIGHUP \(systemctl reload\): nothing is reloaded/);
    } finally {
      assert.equal(await berth.stop(), 0);
    }
  });

  test("--network-plugin=kubenet exits non-zero naming the flag and why", async () => {
    const berth = await startBerth({
      onlyArgs: true,
      args: [...CRI_DOCKER_SERVICE_FLAGS, "--network-plugin=kubenet"],
      noWait: true,
    });
    assert.equal(await berth.exited, 2);
    assert.match(
      berth.output(),
      /^berth: --network-plugin: "kubenet" is not supported: berth networks pods with CNI only/m,
    );
    await berth.stop();
  });

  test("READY=1 once serving, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM, sent as berth's pid", {
    skip: skipActivation || skipNotify,
  }, async () => {
    const notify = await bindNotifySocket(join(dir, "notify.sock"));
    try {
      const berth = await startBerth({
        socketActivated: {},
        env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: "1000000" },
      });
      const ready = await notify.waitFor("READY=1");
      // systemd (NotifyAccess=main, cri-docker.service's default) attributes by sender pid.
      assert.equal(ready.pid, berth.child.pid);
      assert.ok(ready.fields.some((f) => f.startsWith("STATUS=serving CRI on fd://")));
      // READY is sent once serving: a call made now succeeds.
      assert.equal((await berth.client.runtime.version({})).runtimeName, "docker");
      const firstWatchdog = await notify.waitFor("WATCHDOG=1", 5000);
      assert.equal(firstWatchdog.pid, berth.child.pid);
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const watchdogs = notify.messages.filter((m) => m.fields.includes("WATCHDOG=1"));
      assert.ok(watchdogs.length >= 3, `${watchdogs.length} WATCHDOG=1 in ~2 s at 0.5 s`);
      assert.equal(await berth.stop(), 0);
      const stopping = await notify.waitFor("STOPPING=1", 1000);
      assert.equal(stopping.pid, berth.child.pid);
      // Every message is berth's: none a NotifyAccess=main unit would refuse and log.
      assert.deepEqual(
        notify.messages.filter((m) => m.pid !== berth.child.pid),
        [],
        "messages from another pid",
      );
      assert.ok(
        notify.messages.indexOf(stopping) > notify.messages.indexOf(ready),
        "STOPPING after READY",
      );
    } finally {
      notify.close();
    }
  });

  test("CNI plugins berth runs inherit neither LISTEN_* nor NOTIFY_SOCKET/WATCHDOG_*", {
    skip: skipActivation || skipNotify,
  }, async () => {
    const confDir = join(dir, "envdump-net.d");
    const binDir = join(dir, "envdump-bin");
    mkdirSync(confDir);
    mkdirSync(binDir);
    writeFileSync(
      join(confDir, "10-envdump.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "berth-envdump",
        plugins: [{ type: "berth-env-dump" }],
      }),
    );
    // A plugin that records the environment berth gives it and hands out one address.
    const plugin = join(binDir, "berth-env-dump");
    writeFileSync(
      plugin,
      [
        "#!/bin/sh",
        "cat >/dev/null",
        'env > "$(dirname "$0")/env-$CNI_COMMAND"',
        'case "$CNI_COMMAND" in',
        `  ADD) echo '{"cniVersion":"1.0.0","ips":[{"address":"10.123.0.2/24"}]}' ;;`,
        `  VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;`,
        "esac",
        "",
      ].join("\n"),
    );
    chmodSync(plugin, 0o755);
    const notify = await bindNotifySocket(join(dir, "envdump-notify.sock"));
    const berth = await startBerth({
      socketActivated: {},
      env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: "60000000" },
      args: ["--cni-conf-dir", confDir, "--cni-bin-dir", binDir, "--no-default-network"],
    });
    try {
      await notify.waitFor("READY=1");
      const { podSandboxId } = await berth.client.runtime.runPodSandbox({
        config: podConfig("envdump"),
      });
      try {
        const env = readFileSync(join(binDir, "env-ADD"), "utf8");
        assert.match(env, /^CNI_COMMAND=ADD$/m, "the plugin ran");
        for (const name of [
          "LISTEN_FDS",
          "LISTEN_PID",
          "LISTEN_FDNAMES",
          "NOTIFY_SOCKET",
          "WATCHDOG_USEC",
          "WATCHDOG_PID",
        ]) {
          assert.doesNotMatch(env, new RegExp(`^${name}=`, "m"), name);
        }
      } finally {
        await berth.client.runtime.stopPodSandbox({ podSandboxId });
        await berth.client.runtime.removePodSandbox({ podSandboxId });
      }
    } finally {
      assert.equal(await berth.stop(), 0);
      notify.close();
    }
  });

  test("an abstract NOTIFY_SOCKET (@name); no watchdog when WATCHDOG_PID is another process", {
    skip: skipNotify,
  }, async () => {
    const notify = await bindNotifySocket(`@berth-test-${process.pid}-${Date.now()}`);
    try {
      const berth = await startBerth({
        env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: "200000", WATCHDOG_PID: "1" },
      });
      const ready = await notify.waitFor("READY=1");
      assert.equal(ready.pid, berth.child.pid);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(
        notify.messages.filter((m) => m.fields.includes("WATCHDOG=1")).length,
        0,
        "a watchdog meant for another pid",
      );
      assert.equal(await berth.stop(), 0);
      await notify.waitFor("STOPPING=1", 1000);
    } finally {
      notify.close();
    }
  });
});
