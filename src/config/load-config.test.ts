import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseCommandLine, UsageError } from "./command-line.ts";
import { ConfigError } from "./config-file.ts";
import { type LoadOptions, loadConfig, parseConfig } from "./load-config.ts";
import { type Config, DEFAULT_LISTEN, DEFAULT_PAUSE_IMAGE } from "./options.ts";

const DEFAULTS: Config = {
  listen: "unix:///run/berth/berth.sock",
  dockerHost: "unix:///var/run/docker.sock",
  dockerTlsVerify: false,
  dockerCertPath: undefined,
  podInfraContainerImage: "registry.k8s.io/pause:3.10",
  imagePullProgressDeadlineMs: 60_000,
  runtimeRequestTimeoutMs: 120_000,
  logLevel: "info",
  rootDir: "/var/lib/berth",
  criDockerdRootDir: "/var/lib/cri-dockerd",
  adoptCriDockerd: false,
  criDockerdCniCacheDir: "/var/lib/cni/cache",
  criDockerdEndpoint: "unix:///var/run/cri-dockerd.sock",
  runtimeCgroups: undefined,
  networkPlugin: "cni",
  cniConfDir: "/etc/cni/net.d",
  cniBinDirs: ["/opt/cni/bin", "/usr/lib/cni"],
  cniCacheDir: undefined,
  cniPluginTimeoutMs: 60_000,
  networkPluginMtu: 0,
  hairpinMode: "none",
  ipv6DualStack: false,
  podCidr: undefined,
  defaultNetwork: true,
  streamingBindAddr: "127.0.0.1:0",
  streamingTlsCertFile: undefined,
  streamingTlsKeyFile: undefined,
  streamIdleTimeoutMs: 14_400_000,
  streamCreationTimeoutMs: 30_000,
  streamUrlTtlMs: 60_000,
  streamHandshakeTimeoutMs: 10_000,
  maxStreamSessions: 1000,
  metricsBindAddress: undefined,
};

/** Loads with an in-memory file system: path → text. */
function load(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  files: Record<string, string> = {},
  options: LoadOptions = {},
) {
  return loadConfig(parseCommandLine(argv), env, {
    defaultFile: "/etc/berth/config.yaml",
    readFile: (path) => files[path],
    ...options,
  });
}

function throwsWith(fn: () => unknown, kind: new (...args: never[]) => Error, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${String(err)}`);
    assert.match((err as Error).message, message);
    return true;
  });
}

describe("command line", () => {
  test("defaults with no flags, no file and an empty environment", () => {
    assert.deepEqual(parseConfig([], {}), DEFAULTS);
    assert.equal(DEFAULT_LISTEN, DEFAULTS.listen);
    assert.equal(DEFAULT_PAUSE_IMAGE, DEFAULTS.podInfraContainerImage);
  });

  test("cri-dockerd's cri-docker.service line", () => {
    assert.deepEqual(parseConfig(["--container-runtime-endpoint", "fd://"], {}), {
      ...DEFAULTS,
      listen: "fd://",
    });
  });

  const cases: Array<{
    name: string;
    argv: string[];
    env?: NodeJS.ProcessEnv;
    want: Partial<Config>;
  }> = [
    {
      name: "--flag=value",
      argv: ["--pod-cidr=10.244.0.0/24"],
      want: { podCidr: "10.244.0.0/24" },
    },
    {
      name: "--flag value",
      argv: ["--pod-cidr", "10.244.0.0/24"],
      want: { podCidr: "10.244.0.0/24" },
    },
    { name: "bool alone is true", argv: ["--ipv6-dual-stack"], want: { ipv6DualStack: true } },
    { name: "--bool=false", argv: ["--default-network=false"], want: { defaultNetwork: false } },
    {
      name: "--bool=0 (Go spelling)",
      argv: ["--docker-tls-verify=0"],
      env: { DOCKER_TLS_VERIFY: "1" },
      want: { dockerTlsVerify: false },
    },
    {
      name: "--no-default-network",
      argv: ["--no-default-network"],
      want: { defaultNetwork: false },
    },
    {
      name: "the last of repeated flags wins",
      argv: ["--cni-conf-dir=/a", "--cni-conf-dir", "/b"],
      want: { cniConfDir: "/b" },
    },
    {
      name: "--listen alias",
      argv: ["--listen", "unix:///tmp/b.sock"],
      want: { listen: "unix:///tmp/b.sock" },
    },
    {
      name: "alias and name: the last wins",
      argv: [
        "--container-runtime-endpoint",
        "unix:///tmp/a.sock",
        "--listen",
        "unix:///tmp/b.sock",
      ],
      want: { listen: "unix:///tmp/b.sock" },
    },
    {
      name: "tcp endpoint",
      argv: ["--listen=tcp://127.0.0.1:9000"],
      want: { listen: "tcp://127.0.0.1:9000" },
    },
    {
      name: "fd://NAME",
      argv: ["--container-runtime-endpoint=fd://cri"],
      want: { listen: "fd://cri" },
    },
    {
      name: "Go durations",
      argv: ["--image-pull-progress-deadline", "1m30s", "--runtime-request-timeout=30s"],
      want: { imagePullProgressDeadlineMs: 90_000, runtimeRequestTimeoutMs: 30_000 },
    },
    {
      name: "--runtime-request-timeout=0 is cri-dockerd's 2m",
      argv: ["--runtime-request-timeout=0s"],
      want: { runtimeRequestTimeoutMs: 120_000 },
    },
    {
      name: "--network-plugin=cni",
      argv: ["--network-plugin=cni"],
      want: { networkPlugin: "cni" },
    },
    {
      name: "--network-plugin-mtu int32",
      argv: ["--network-plugin-mtu=1450"],
      want: { networkPluginMtu: 1450 },
    },
    {
      name: "--hairpin-mode",
      argv: ["--hairpin-mode=hairpin-veth"],
      want: { hairpinMode: "hairpin-veth" },
    },
    {
      name: "--cni-bin-dir split on commas",
      argv: ["--cni-bin-dir", "/a,,/b,"],
      want: { cniBinDirs: ["/a", "/b"] },
    },
    {
      name: "an empty optional flag is unset",
      argv: ["--pod-cidr="],
      want: { podCidr: undefined },
    },
    {
      name: "bare IP streaming address takes port 0",
      argv: ["--streaming-bind-addr=10.0.0.1"],
      want: { streamingBindAddr: "10.0.0.1:0" },
    },
    {
      name: "bare IPv6 streaming address",
      argv: ["--streaming-bind-addr=::1"],
      want: { streamingBindAddr: "[::1]:0" },
    },
    {
      name: "cri-dockerd log level names",
      argv: ["--log-level=warning"],
      want: { logLevel: "warn" },
    },
    {
      name: "DOCKER_HOST from the environment",
      argv: [],
      env: { DOCKER_HOST: "tcp://docker:2376" },
      want: { dockerHost: "tcp://docker:2376" },
    },
    { name: "an empty DOCKER_HOST is ignored", argv: [], env: { DOCKER_HOST: "" }, want: {} },
    {
      name: "--docker-endpoint wins over DOCKER_HOST",
      argv: ["--docker-endpoint", "unix:///tmp/d.sock"],
      env: { DOCKER_HOST: "tcp://docker:2376" },
      want: { dockerHost: "unix:///tmp/d.sock" },
    },
    {
      name: "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH",
      argv: [],
      env: { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" },
      want: { dockerTlsVerify: true, dockerCertPath: "/certs" },
    },
    {
      name: "BERTH_LOG_LEVEL",
      argv: [],
      env: { BERTH_LOG_LEVEL: "debug" },
      want: { logLevel: "debug" },
    },
    {
      name: "every other flag",
      argv: [
        "--cri-dockerd-root-directory=/x/cri",
        "--runtime-cgroups=/berth.slice",
        "--cni-cache-dir=/c",
        "--metrics-bind-address=127.0.0.1:9100",
        "--streaming-tls-cert-file=/c.pem",
        "--streaming-tls-key-file=/k.pem",
        "--root-directory=/r",
        "--pod-infra-container-image=localhost:5000/pause:1",
      ],
      want: {
        criDockerdRootDir: "/x/cri",
        runtimeCgroups: "/berth.slice",
        cniCacheDir: "/c",
        metricsBindAddress: "127.0.0.1:9100",
        streamingTlsCertFile: "/c.pem",
        streamingTlsKeyFile: "/k.pem",
        rootDir: "/r",
        podInfraContainerImage: "localhost:5000/pause:1",
      },
    },
  ];
  for (const { name, argv, env, want } of cases) {
    test(name, () => assert.deepEqual(parseConfig(argv, env ?? {}), { ...DEFAULTS, ...want }));
  }

  const refused: Array<{ name: string; argv: string[]; message: RegExp }> = [
    { name: "unknown flag", argv: ["--no-such-flag"], message: /^unknown flag: --no-such-flag$/ },
    { name: "unknown short flag", argv: ["-x"], message: /^unknown flag: -x$/ },
    {
      name: "string flag without value",
      argv: ["--pod-cidr"],
      message: /^flag needs an argument: --pod-cidr$/,
    },
    {
      name: "bad bool",
      argv: ["--ipv6-dual-stack=yes"],
      message: /^--ipv6-dual-stack: "yes" is not a boolean/,
    },
    {
      name: "--no- on a non-negatable bool",
      argv: ["--no-ipv6-dual-stack"],
      message: /unknown flag/,
    },
    {
      name: "bad endpoint",
      argv: ["--listen", "http://x"],
      message: /^--listen: "http:\/\/x": expected unix:\/\/\/path/,
    },
    {
      name: "relative unix endpoint",
      argv: ["--container-runtime-endpoint", "unix://berth.sock"],
      message: /^--container-runtime-endpoint: /,
    },
    {
      name: "bad duration",
      argv: ["--image-pull-progress-deadline", "soon"],
      message: /^--image-pull-progress-deadline: "soon" is not a duration/,
    },
    {
      name: "bare number duration",
      argv: ["--runtime-request-timeout=30"],
      message: /^--runtime-request-timeout: "30" is not a duration/,
    },
    { name: "negative duration", argv: ["--runtime-request-timeout=-1s"], message: /is negative/ },
    {
      name: "kubenet",
      argv: ["--network-plugin=kubenet"],
      message: /^--network-plugin: "kubenet" is not supported: berth networks pods with CNI only/,
    },
    {
      name: "bad hairpin mode",
      argv: ["--hairpin-mode=on"],
      message: /^--hairpin-mode: "on" is not one of none, hairpin-veth, promiscuous-bridge/,
    },
    {
      name: "bad mtu",
      argv: ["--network-plugin-mtu=big"],
      message: /^--network-plugin-mtu: "big" is not an integer/,
    },
    { name: "bad log level", argv: ["--log-level", "verbose"], message: /^--log-level: "verbose"/ },
    {
      name: "bad pod CIDR",
      argv: ["--pod-cidr=10.0.0.0"],
      message: /^--pod-cidr: "10.0.0.0" is not a CIDR/,
    },
    {
      name: "bad metrics address",
      argv: ["--metrics-bind-address=9100"],
      message: /^--metrics-bind-address: "9100": expected HOST:PORT/,
    },
    {
      name: "relative root",
      argv: ["--root-directory=var/lib"],
      message: /is not an absolute path/,
    },
    {
      name: "--config with a missing file",
      argv: ["--config", "/nowhere.yaml"],
      message: /^--config \/nowhere.yaml: no such file$/,
    },
  ];
  for (const { name, argv, message } of refused) {
    test(`${name} → UsageError`, () => throwsWith(() => load(argv), UsageError, message));
  }

  test("TLS cert without key is refused naming both", () => {
    throwsWith(
      () => load(["--streaming-tls-cert-file=/c.pem"]),
      ConfigError,
      /streaming-tls-cert-file and streaming-tls-key-file go together/,
    );
  });

  test("help, version, buildinfo and words", () => {
    const line = parseCommandLine(["config", "dump", "--help", "--version=false", "--buildinfo"]);
    assert.deepEqual(line.words, ["config", "dump"]);
    assert.equal(line.help, true);
    assert.equal(line.version, false);
    assert.equal(line.buildinfo, true);
    assert.equal(parseCommandLine(["-h"]).help, true);
    assert.deepEqual(parseCommandLine(["--", "--listen"]).words, ["--listen"]);
  });
});

describe("config file", () => {
  const file = "/etc/berth/config.yaml";

  test("keys are the flags' names; precedence flag > file > environment > default", () => {
    const files = {
      [file]: [
        "docker-endpoint: unix:///file/docker.sock",
        "pod-cidr: 10.1.0.0/16",
        "network-plugin-mtu: 1400",
        "default-network: false",
        "cni-bin-dir: [/x, /y]",
        "image-pull-progress-deadline: 2m0s",
      ].join("\n"),
    };
    const env = { DOCKER_HOST: "tcp://env:2375", BERTH_LOG_LEVEL: "debug" };
    const loaded = load(["--pod-cidr=10.2.0.0/16"], env, files);
    assert.equal(loaded.file, file);
    assert.deepEqual(loaded.config, {
      ...DEFAULTS,
      dockerHost: "unix:///file/docker.sock",
      podCidr: "10.2.0.0/16",
      networkPluginMtu: 1400,
      defaultNetwork: false,
      cniBinDirs: ["/x", "/y"],
      imagePullProgressDeadlineMs: 120_000,
      logLevel: "debug",
    });
    assert.equal(loaded.sources.get("pod-cidr"), "flag");
    assert.equal(loaded.sources.get("docker-endpoint"), "file");
    assert.equal(loaded.sources.get("log-level"), "env");
    assert.equal(loaded.sources.get("cni-conf-dir"), "default");
  });

  test("a key left empty is not set: the environment's default applies", () => {
    const loaded = load([], { DOCKER_HOST: "tcp://env:2375" }, { [file]: "docker-endpoint:\n" });
    assert.equal(loaded.config.dockerHost, "tcp://env:2375");
  });

  test("a missing default file is fine; --config names another", () => {
    assert.equal(load([]).file, undefined);
    const loaded = load(
      ["--config", "/tmp/b.yaml"],
      {},
      { "/tmp/b.yaml": "pod-cidr: 10.9.0.0/24" },
    );
    assert.equal(loaded.file, "/tmp/b.yaml");
    assert.equal(loaded.config.podCidr, "10.9.0.0/24");
  });

  test("an empty file sets nothing", () => {
    assert.deepEqual(load([], {}, { [file]: "# nothing\n" }).config, DEFAULTS);
  });

  const bad: Array<{ name: string; text: string; message: RegExp }> = [
    {
      name: "unknown key",
      text: "pod-cdir: 10.0.0.0/8",
      message: /^\/etc\/berth\/config.yaml: unknown key "pod-cdir"/,
    },
    {
      name: "bad value",
      text: "pod-cidr: banana",
      message: /^\/etc\/berth\/config.yaml: key "pod-cidr": "banana" is not a CIDR/,
    },
    {
      name: "bad duration",
      text: "runtime-request-timeout: 30",
      message: /^\/etc\/berth\/config.yaml: key "runtime-request-timeout": "30" is not a duration/,
    },
    {
      name: "unsupported plugin",
      text: "network-plugin: kubenet",
      message: /key "network-plugin": "kubenet" is not supported/,
    },
    {
      name: "a mapping where a value goes",
      text: "pod-cidr:\n  a: b",
      message: /key "pod-cidr": expected a single string value/,
    },
    {
      name: "a list where one value goes",
      text: "cni-conf-dir: [/a, /b]",
      message: /key "cni-conf-dir": expected a single string value/,
    },
    { name: "not a mapping", text: "- a\n- b", message: /expected a mapping of keys to values/ },
    {
      name: "YAML syntax",
      text: "pod-cidr: [unclosed",
      message: /^\/etc\/berth\/config.yaml:\d+:\d+: not valid YAML/,
    },
    {
      name: "duplicate key",
      text: "pod-cidr: 10.0.0.0/8\npod-cidr: 10.0.0.0/9",
      message: /not valid YAML: Map keys must be unique/,
    },
    {
      name: "alias and name both",
      text: "listen: unix:///a.sock\ncontainer-runtime-endpoint: unix:///b.sock",
      message: /key "container-runtime-endpoint": sets the same option as key "listen"/,
    },
    { name: "a command-line-only flag", text: "version: true", message: /unknown key "version"/ },
  ];
  for (const { name, text, message } of bad) {
    test(`${name} → ConfigError naming file, key and reason`, () =>
      throwsWith(() => load([], {}, { [file]: text }), ConfigError, message));
  }

  test("a flag overrides a file's bad value? no: the file is still checked", () => {
    throwsWith(
      () => load(["--pod-cidr=10.0.0.0/8"], {}, { [file]: "pod-cidr: x" }),
      ConfigError,
      /pod-cidr/,
    );
  });
});

describe("warnings for values berth does not honour", () => {
  test("explicit values that have no effect are named; defaults are not", () => {
    assert.deepEqual(load([]).warnings, []);
    const { warnings } = load(
      ["--hairpin-mode=hairpin-veth", "--network-plugin-mtu=1400"],
      {},
      { "/etc/berth/config.yaml": "ipv6-dual-stack: false\n" },
    );
    assert.equal(warnings.length, 3);
    assert.match(
      warnings[0] ?? "",
      /^network-plugin-mtu=1400 \(--network-plugin-mtu\) not applied/,
    );
    assert.match(warnings[1] ?? "", /^hairpin-mode=hairpin-veth \(--hairpin-mode\) not applied/);
    assert.match(
      warnings[2] ?? "",
      /^ipv6-dual-stack=false \(\/etc\/berth\/config.yaml: key "ipv6-dual-stack"\) has no effect/,
    );
  });
});
