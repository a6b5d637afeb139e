import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse } from "yaml";
import { runBerth, startBerth } from "../support/berth-process.ts";

const REPO = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };

/** berth's environment without the variables that feed defaults, so output is predictable. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "BERTH_LOG_LEVEL"]) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

describe("berth's command line and config file", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("--version and --buildinfo print as cri-dockerd does, with berth's name", () => {
    const version = runBerth(["--version"]);
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `berth ${pkg.version} (HEAD)\n`);
    const info = runBerth(["--buildinfo"]);
    assert.equal(info.code, 0);
    assert.match(
      info.stdout,
      new RegExp(
        `^Program: berth\\nVersion: ${pkg.version} \\(HEAD\\)\\nGitCommit: HEAD\\nNode.js version: v\\d+\\.\\d+\\.\\d+\\n$`,
      ),
    );
  });

  test("--help lists the subcommands and cri-dockerd's flags", () => {
    const help = runBerth(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^ {2}berth config default /m);
    assert.match(help.stdout, /^ {2}berth config dump \[flags\] /m);
    for (const flag of [
      "container-runtime-endpoint",
      "docker-endpoint",
      "cri-dockerd-root-directory",
      "pod-infra-container-image",
      "image-pull-progress-deadline",
      "runtime-request-timeout",
      "streaming-bind-addr",
      "runtime-cgroups",
      "pod-cidr",
      "ipv6-dual-stack",
      "network-plugin",
      "cni-conf-dir",
      "cni-bin-dir",
      "cni-cache-dir",
      "network-plugin-mtu",
      "hairpin-mode",
      "log-level",
      "version",
      "buildinfo",
      "metrics-bind-address",
      "config",
    ]) {
      assert.match(help.stdout, new RegExp(`^ {2}(-h, )?--${flag}[ ,]`, "m"), flag);
    }
  });

  test("`config default` is a config file that reads back to `config dump`'s defaults", () => {
    const defaults = runBerth(["config", "default"], cleanEnv());
    assert.equal(defaults.code, 0);
    const file = join(dir, "default.yaml");
    writeFileSync(file, defaults.stdout);
    const fromFile = runBerth(["config", "dump", "--config", file], cleanEnv());
    const fromNothing = runBerth(["config", "dump", "--config", "/dev/null"], cleanEnv());
    assert.equal(fromFile.code, 0, fromFile.stderr);
    // Equal values; only the sources noted in comments differ (file, default).
    assert.deepEqual(parse(fromFile.stdout), parse(fromNothing.stdout));
    assert.match(fromFile.stdout, /^root-directory: \/var\/lib\/berth # file$/m);
    assert.match(fromFile.stdout, new RegExp(`^# config file: ${file}$`, "m"));
    assert.equal(
      parse(fromFile.stdout)["container-runtime-endpoint"],
      "unix:///run/berth/berth.sock",
    );
  });

  test("`config dump` shows flags over the file over the environment", () => {
    const file = join(dir, "layered.yaml");
    writeFileSync(file, "pod-cidr: 10.7.0.0/16\ndocker-endpoint: unix:///file/docker.sock\n");
    const dump = runBerth(
      ["config", "dump", "--config", file, "--pod-cidr=10.8.0.0/16"],
      cleanEnv({ DOCKER_HOST: "tcp://env:2375", BERTH_LOG_LEVEL: "warn" }),
    );
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /^pod-cidr: 10.8.0.0\/16 # flag$/m);
    assert.match(dump.stdout, /^docker-endpoint: unix:\/\/\/file\/docker.sock # file$/m);
    assert.match(dump.stdout, /^log-level: warn # from \$BERTH_LOG_LEVEL$/m);
  });

  test("a bad config file fails at start naming the file, the key and why", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "pod-cidr: 10.0.0.0/8\nnetwork-plugin-mtu: lots\n");
    const bad = runBerth(["--config", file], cleanEnv());
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      `berth: ${file}: key "network-plugin-mtu": "lots" is not an integer\n`,
    );
    writeFileSync(file, "pod-cdir: 10.0.0.0/8\n");
    const unknown = runBerth(["config", "dump", "--config", file], cleanEnv());
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`^berth config dump: ${file}: unknown key "pod-cdir"`));
    const missing = runBerth(["--config", join(dir, "absent.yaml")], cleanEnv());
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--config .*absent.yaml: no such file/);
  });

  test("unknown flags and commands are refused", () => {
    const flag = runBerth(["--no-such-flag"]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^berth: unknown flag: --no-such-flag\nRun 'berth --help'/);
    const command = runBerth(["frobnicate"]);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /^berth: unknown command: frobnicate/);
  });

  test("a served berth takes its config file, flags win, and unhonoured values are warned", async () => {
    const file = join(dir, "serve.yaml");
    writeFileSync(
      file,
      [
        "pod-infra-container-image: localhost:5000/berth-test/pause:file",
        "image-pull-progress-deadline: 1m30s",
        "hairpin-mode: hairpin-veth",
      ].join("\n"),
    );
    const berth = await startBerth({
      args: ["--config", file, "--image-pull-progress-deadline=45s"],
    });
    try {
      const status = await berth.client.runtime.status({ verbose: true });
      const config = JSON.parse(status.info.config ?? "{}");
      assert.equal(config.podInfraContainerImage, "localhost:5000/berth-test/pause:file");
      assert.equal(config.imagePullProgressDeadlineMs, 45_000);
      assert.match(
        berth.output(),
        /"msg":"hairpin-mode=hairpin-veth \(.*serve.yaml: key \\"hairpin-mode\\"\) not applied/,
      );
      assert.match(berth.output(), new RegExp(`"configFile":"${file}"`));
    } finally {
      await berth.stop();
    }
  });
});
