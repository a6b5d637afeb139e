/**
 * `berth doctor` run as the operator runs it (berth's entry with `doctor` and berth's flags),
 * against this machine's real engine, CNI plugins and kernel: once as set up for the tests,
 * and against broken setups made of temporary parts (an empty CNI config directory, an engine
 * socket nobody serves, a pause image no registry has). The shared engine is never touched.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startBerth } from "../support/berth-process.ts";
import { writeTestNetwork } from "../support/cni.ts";
import { loadFixtures } from "../support/fixtures.ts";

const REPO = join(import.meta.dirname, "..", "..");
const ENTRY = process.env.BERTH_ENTRY ?? "src/main.ts";
const fx = loadFixtures();
const dir = mkdtempSync(join(tmpdir(), "berth-doctor-"));
const cniDir = join(dir, "net.d");
const emptyCniDir = join(dir, "empty.d");

const CHECKS = [
  "engine",
  "cgroups",
  "pause-image",
  "cni-config",
  "cni-plugins",
  "ip-forward",
  "br-netfilter",
  "iptables-forward",
  "inotify-instances",
  "capabilities",
  "cri-socket",
  "other-cri",
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The report's lines by check name: the line, and the fix below it when there is one. */
  checks: Map<string, { status: string; line: string; fix: string | undefined }>;
}

function doctor(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO, ENTRY), "doctor", ...args],
      { cwd: REPO, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? null) : 0;
        const checks: Run["checks"] = new Map();
        const lines = stdout.split("\n");
        lines.forEach((line, i) => {
          const match = /^\[(ok|warn|FAIL|info)\]\s+(\S+)\s+/.exec(line);
          if (!match) return;
          const next = lines[i + 1] ?? "";
          const fix = /^\s+fix: (.*)$/.exec(next)?.[1];
          checks.set(match[2] as string, { status: match[1] as string, line, fix });
        });
        resolve({ code, stdout, stderr, checks });
      },
    );
  });
}

function check(run: Run, name: string) {
  const found = run.checks.get(name);
  assert.ok(found, `no ${name} line in:\n${run.stdout}${run.stderr}`);
  return found;
}

before(() => {
  mkdirSync(cniDir);
  mkdirSync(emptyCniDir);
  writeTestNetwork(cniDir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("berth doctor", () => {
  test("on this machine as set up for the tests: exit 0, every check's line, no failure", async () => {
    const run = await doctor(
      "--cni-conf-dir",
      cniDir,
      "--pod-infra-container-image",
      fx.pauseImage,
      "--listen",
      `unix://${join(dir, "berth.sock")}`,
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const name of CHECKS)
      assert.notEqual(check(run, name).status, "FAIL", check(run, name).line);
    // The engine of this pass: the system's, or the one DOCKER_HOST names.
    const engine = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
    assert.ok(
      new RegExp(
        `\\[ok\\]\\s+engine\\s+Docker Engine \\S+ at ${engine.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}, API 1\\.\\d+`,
      ).test(check(run, "engine").line),
      check(run, "engine").line,
    );
    assert.equal(check(run, "pause-image").status, "ok");
    assert.match(check(run, "cni-config").line, /network berth-e2e \(CNI 1\.0\.0\)/);
    assert.match(check(run, "cni-plugins").line, /bridge, host-local, portmap, firewall found/);
    assert.match(check(run, "cri-socket").line, /berth\.sock is free/);
    assert.match(run.stdout, /^berth doctor: no failures, \d+ warnings?$/m);
  });

  test("against a running berth's socket: it says that socket serves CRI, and who answers", async () => {
    const berth = await startBerth({ args: ["--cni-conf-dir", cniDir] });
    try {
      const run = await doctor("--cni-conf-dir", cniDir, "--listen", berth.endpoint);
      const line = check(run, "cri-socket");
      assert.equal(line.status, "ok");
      assert.match(line.line, /\(mode 0660, group \S+\) serves CRI: runtime docker \d+\./);
    } finally {
      await berth.stop();
      rmSync(dirname(berth.rootDir), { recursive: true, force: true });
    }
  });

  test("an engine socket nobody serves and an empty CNI dir: exit 1, both failures with their fix", async () => {
    // A socket left by an engine that died: the file is there, nothing accepts.
    const socket = join(dir, "dead-docker.sock");
    const holder = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(socket)})`,
    ]);
    while (!existsSync(socket)) await new Promise((resolve) => setTimeout(resolve, 20));
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    assert.ok(existsSync(socket), "the dead engine's socket stays behind");

    const run = await doctor(
      "--docker-endpoint",
      `unix://${socket}`,
      "--cni-conf-dir",
      emptyCniDir,
      "--no-default-network",
      "--listen",
      `unix://${join(dir, "berth.sock")}`,
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    for (const name of CHECKS) check(run, name);
    const engine = check(run, "engine");
    assert.equal(engine.status, "FAIL");
    assert.match(
      engine.line,
      new RegExp(`no Docker Engine answers at unix://${socket}: .*ECONNREFUSED`),
    );
    assert.match(engine.fix ?? "", /start the engine .* --docker-endpoint/);
    assert.equal(check(run, "cgroups").status, "info");
    const cni = check(run, "cni-config");
    assert.equal(cni.status, "FAIL");
    assert.match(cni.line, new RegExp(`no CNI network config found in ${emptyCniDir}`));
    assert.match(
      cni.fix ?? "",
      /put a network config \(\.conflist\) into .*\(drop --no-default-network\)/,
    );
    assert.match(run.stdout, /^berth doctor: 2 checks failed, \d+ warnings?$/m);
  });

  test("an empty CNI dir with berth's default network on is only a warning", async () => {
    const run = await doctor(
      "--cni-conf-dir",
      emptyCniDir,
      "--pod-infra-container-image",
      fx.pauseImage,
    );
    const cni = check(run, "cni-config");
    assert.equal(cni.status, "warn");
    assert.match(cni.line, /berth writes its default bridge network \(99-berth\.conflist\)/);
    // The default network's plugins are looked for instead.
    assert.match(check(run, "cni-plugins").line, /bridge, host-local, portmap, bandwidth found/);
    assert.equal(run.code, 0, run.stdout);
  });

  test("a pause image neither the engine nor its registry has: exit 1, the pause-image failure and its fix", async () => {
    const image = `${fx.plainRegistry}/berth-e2e/no-such-pause:${process.pid}`;
    const run = await doctor("--cni-conf-dir", cniDir, "--pod-infra-container-image", image);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const pause = check(run, "pause-image");
    assert.equal(pause.status, "FAIL");
    assert.match(
      pause.line,
      /is not on the engine, and its registry cannot serve it: .*manifest unknown/,
    );
    assert.match(pause.fix ?? "", /docker pull or docker load .* --pod-infra-container-image/);
    assert.equal(check(run, "engine").status, "ok");
  });

  test("a bad flag is a usage error (exit 2) naming it", async () => {
    const run = await doctor("--no-such-flag");
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^berth doctor: unknown flag: --no-such-flag$/m);
    assert.match(run.stderr, /Run 'berth --help' for the flags/);
  });
});
