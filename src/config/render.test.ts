import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { parseCommandLine } from "./command-line.ts";
import { loadConfig } from "./load-config.ts";
import { CLI_FLAGS, OPTIONS } from "./options.ts";
import { defaultConfigFile, dumpConfig, usage } from "./render.ts";
import { buildInfo, buildInfoText, versionText } from "./version.ts";

const FILE = "/etc/berth/config.yaml";

function loadWith(argv: string[], env: NodeJS.ProcessEnv, text: string | undefined) {
  return loadConfig(parseCommandLine(argv), env, {
    defaultFile: FILE,
    readFile: (path) => (path === FILE ? text : undefined),
  });
}

describe("berth config default", () => {
  const text = defaultConfigFile();

  test("has every option's key, each after a comment saying what it does", () => {
    const lines = text.split("\n");
    for (const option of OPTIONS) {
      const at = lines.findIndex((line) => line.startsWith(`${option.name}:`));
      assert.ok(at > 0, `${option.name} is in the file`);
      const comment: string[] = [];
      for (let i = at - 1; lines[i]?.startsWith("# "); i--)
        comment.unshift(lines[i]?.slice(2) ?? "");
      assert.ok(comment.join(" ").includes(option.help), `${option.name}'s help above it`);
    }
    assert.ok(
      lines.every((line) => line.length <= 100 || !line.startsWith("#")),
      "wrapped",
    );
    assert.deepEqual(
      Object.keys(parse(text)),
      OPTIONS.map((o) => o.name),
    );
  });

  test("parses back to the defaults, with and without an environment", () => {
    const none = loadWith([], {}, undefined).config;
    assert.deepEqual(loadWith([], {}, text).config, none);
    // Keys whose default comes from the environment are left empty, so the file does not
    // take the environment's place.
    const env = { DOCKER_HOST: "tcp://h:2376", DOCKER_TLS_VERIFY: "1", BERTH_LOG_LEVEL: "debug" };
    assert.deepEqual(loadWith([], env, text).config, loadWith([], env, undefined).config);
    assert.equal(loadWith([], env, text).config.dockerHost, "tcp://h:2376");
  });
});

describe("berth config dump", () => {
  test("prints the effective values, their sources, and reads back as a config file", () => {
    const loaded = loadWith(
      ["--pod-cidr=10.5.0.0/16", "--runtime-request-timeout=45s"],
      { DOCKER_HOST: "tcp://h:2376" },
      "cni-bin-dir: [/x, /y]\nhairpin-mode: promiscuous-bridge\n",
    );
    const text = dumpConfig(loaded);
    assert.match(text, /^# config file: \/etc\/berth\/config.yaml$/m);
    assert.match(text, /^pod-cidr: 10.5.0.0\/16 # flag$/m);
    assert.match(text, /^runtime-request-timeout: 45s # flag$/m);
    assert.match(text, /^cni-bin-dir: \/x,\/y # file$/m);
    assert.match(text, /^docker-endpoint: tcp:\/\/h:2376 # from \$DOCKER_HOST$/m);
    assert.match(text, /^image-pull-progress-deadline: 1m0s$/m);
    assert.match(text, /^metrics-bind-address:$/m);
    assert.deepEqual(loadWith([], {}, text).config, loaded.config);
  });
});

describe("--help", () => {
  test("lists every flag with its default, and the subcommands", () => {
    const text = usage([{ usage: "berth config default", help: "print it" }]);
    for (const option of OPTIONS) {
      assert.match(text, new RegExp(`^  --${option.name}[ ,]`, "m"), option.name);
      for (const alias of option.aliases ?? []) assert.ok(text.includes(`--${alias}`), alias);
    }
    for (const flag of CLI_FLAGS) assert.ok(text.includes(`--${flag.name}`), flag.name);
    assert.match(text, /^ {2}berth config default +print it$/m);
    assert.match(text, /--image-pull-progress-deadline duration .*\(default "1m0s"\)/);
    assert.match(
      text,
      /--docker-endpoint string .*\(default \$DOCKER_HOST, else "unix:\/\/\/var\/run\/docker.sock"\)/,
    );
  });
});

describe("--version and --buildinfo", () => {
  test("cri-dockerd's format with berth's name and version from package.json", () => {
    const info = buildInfo();
    assert.equal(info.name, "berth");
    assert.match(info.version, /^\d+\.\d+\.\d+/);
    assert.equal(versionText(info), `berth ${info.version} (${info.gitCommit})\n`);
    assert.equal(
      versionText({ name: "berth", version: "1.2.3", gitCommit: "abc123", preRelease: "rc1" }),
      "berth 1.2.3-rc1 (abc123)\n",
    );
    assert.deepEqual(buildInfoText(info).split("\n"), [
      "Program: berth",
      `Version: ${info.version} (${info.gitCommit})`,
      `GitCommit: ${info.gitCommit}`,
      `Node.js version: ${process.version}`,
      "",
    ]);
  });
});

describe("README", () => {
  test("its configuration section names every option", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("## Using it"));
    for (const option of OPTIONS) assert.ok(section.includes(`\`--${option.name}\``), option.name);
    for (const flag of CLI_FLAGS) assert.ok(section.includes(`--${flag.name}`), flag.name);
  });
});

describe("man page", () => {
  test("berth(8) names every option", () => {
    const page = readFileSync(new URL("../../packaging/man/berth.8", import.meta.url), "utf8");
    // roff spells each dash of a flag as \-.
    const roff = (name: string) => `\\-\\-${name.replaceAll("-", "\\-")}`;
    for (const { name } of [...OPTIONS, ...CLI_FLAGS]) {
      assert.ok(page.includes(roff(name)) || page.includes(roff(`no-${name}`)), name);
    }
  });
});
