import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Config,
  DEFAULT_LISTEN,
  DEFAULT_PAUSE_IMAGE,
  parseConfig,
  UsageError,
  usage,
} from "./config.ts";

const DEFAULTS: Config = {
  listen: "unix:///run/berth/berth.sock",
  dockerHost: "unix:///var/run/docker.sock",
  dockerTlsVerify: false,
  dockerCertPath: undefined,
  podInfraContainerImage: "registry.k8s.io/pause:3.10",
  imagePullProgressDeadlineMs: 60_000,
  logLevel: "info",
  rootDir: "/var/lib/berth",
  cniConfDir: "/etc/cni/net.d",
  cniBinDirs: ["/opt/cni/bin", "/usr/lib/cni"],
  podCidr: undefined,
  defaultNetwork: true,
  streamingBindAddr: "127.0.0.1:0",
  streamingTlsCertFile: undefined,
  streamingTlsKeyFile: undefined,
  metricsBindAddress: undefined,
};

describe("parseConfig", () => {
  test("--no-default-network turns berth's default CNI network off", () => {
    assert.equal(parseConfig(["--no-default-network"], {}).defaultNetwork, false);
    assert.equal(parseConfig(["--default-network"], {}).defaultNetwork, true);
  });

  test("defaults with no flags and an empty environment", () => {
    assert.deepEqual(parseConfig([], {}), DEFAULTS);
    assert.equal(DEFAULT_LISTEN, DEFAULTS.listen);
    assert.equal(DEFAULT_PAUSE_IMAGE, DEFAULTS.podInfraContainerImage);
  });

  const cases: Array<{
    name: string;
    argv: string[];
    env: NodeJS.ProcessEnv;
    want: Partial<Config>;
  }> = [
    {
      name: "DOCKER_HOST from the environment",
      argv: [],
      env: { DOCKER_HOST: "tcp://docker:2376" },
      want: { dockerHost: "tcp://docker:2376" },
    },
    {
      name: "an empty DOCKER_HOST is ignored",
      argv: [],
      env: { DOCKER_HOST: "" },
      want: { dockerHost: "unix:///var/run/docker.sock" },
    },
    {
      name: "--docker-endpoint wins over DOCKER_HOST",
      argv: ["--docker-endpoint", "unix:///tmp/d.sock"],
      env: { DOCKER_HOST: "tcp://docker:2376" },
      want: { dockerHost: "unix:///tmp/d.sock" },
    },
    {
      name: "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH from the environment",
      argv: [],
      env: { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" },
      want: { dockerTlsVerify: true, dockerCertPath: "/certs" },
    },
    {
      name: "empty DOCKER_TLS_VERIFY and DOCKER_CERT_PATH are unset",
      argv: [],
      env: { DOCKER_TLS_VERIFY: "", DOCKER_CERT_PATH: "" },
      want: { dockerTlsVerify: false, dockerCertPath: undefined },
    },
    {
      name: "--docker-tls-verify and --docker-cert-path",
      argv: ["--docker-tls-verify", "--docker-cert-path", "/c"],
      env: { DOCKER_CERT_PATH: "/env-certs" },
      want: { dockerTlsVerify: true, dockerCertPath: "/c" },
    },
    {
      name: "--listen unix",
      argv: ["--listen", "unix:///tmp/berth.sock"],
      env: {},
      want: { listen: "unix:///tmp/berth.sock" },
    },
    {
      name: "--listen=tcp",
      argv: ["--listen=tcp://127.0.0.1:9000"],
      env: {},
      want: { listen: "tcp://127.0.0.1:9000" },
    },
    {
      name: "--container-runtime-endpoint alias",
      argv: ["--container-runtime-endpoint", "unix:///tmp/cri.sock"],
      env: {},
      want: { listen: "unix:///tmp/cri.sock" },
    },
    {
      name: "--listen wins over its alias",
      argv: [
        "--container-runtime-endpoint",
        "unix:///tmp/a.sock",
        "--listen",
        "unix:///tmp/b.sock",
      ],
      env: {},
      want: { listen: "unix:///tmp/b.sock" },
    },
    {
      name: "--image-pull-progress-deadline",
      argv: ["--image-pull-progress-deadline", "1m30s"],
      env: {},
      want: { imagePullProgressDeadlineMs: 90_000 },
    },
    {
      name: "BERTH_LOG_LEVEL from the environment",
      argv: [],
      env: { BERTH_LOG_LEVEL: "debug" },
      want: { logLevel: "debug" },
    },
    {
      name: "--log-level wins over BERTH_LOG_LEVEL",
      argv: ["--log-level", "warn"],
      env: { BERTH_LOG_LEVEL: "debug" },
      want: { logLevel: "warn" },
    },
    {
      name: "--cni-bin-dir split on commas, empty entries dropped",
      argv: ["--cni-bin-dir", "/a,,/b,"],
      env: {},
      want: { cniBinDirs: ["/a", "/b"] },
    },
    {
      name: "--metrics-bind-address turns the metrics server on",
      argv: ["--metrics-bind-address", "127.0.0.1:9090"],
      env: {},
      want: { metricsBindAddress: "127.0.0.1:9090" },
    },
    {
      name: "the remaining flags",
      argv: [
        "--pod-infra-container-image",
        "localhost:5000/pause:1",
        "--root-directory",
        "/tmp/root",
        "--cni-conf-dir",
        "/tmp/net.d",
        "--pod-cidr",
        "10.244.0.0/24",
        "--streaming-bind-addr",
        "0.0.0.0:10010",
      ],
      env: {},
      want: {
        podInfraContainerImage: "localhost:5000/pause:1",
        rootDir: "/tmp/root",
        cniConfDir: "/tmp/net.d",
        podCidr: "10.244.0.0/24",
        streamingBindAddr: "0.0.0.0:10010",
      },
    },
  ];
  for (const { name, argv, env, want } of cases) {
    test(name, () => {
      assert.deepEqual(parseConfig(argv, env), { ...DEFAULTS, ...want });
    });
  }

  const usageErrors: Array<{ name: string; argv: string[]; message: RegExp }> = [
    {
      name: "bad --listen scheme",
      argv: ["--listen", "http://x"],
      message: /^--listen http:\/\/x: expected/,
    },
    {
      name: "relative unix --listen",
      argv: ["--listen", "unix://berth.sock"],
      message: /^--listen /,
    },
    {
      name: "bad alias value",
      argv: ["--container-runtime-endpoint", "/run/x.sock"],
      message: /^--listen /,
    },
    {
      name: "bad duration",
      argv: ["--image-pull-progress-deadline", "soon"],
      message: /^--image-pull-progress-deadline: "soon" is not a duration/,
    },
    {
      name: "bad --metrics-bind-address",
      argv: ["--metrics-bind-address", "9090"],
      message: /^--metrics-bind-address 9090: expected HOST:PORT/,
    },
    { name: "bad log level", argv: ["--log-level", "verbose"], message: /^--log-level verbose/ },
    { name: "unknown flag", argv: ["--no-such-flag"], message: /no-such-flag/ },
    { name: "positional argument", argv: ["extra"], message: /extra/ },
    { name: "string flag without value", argv: ["--listen"], message: /listen/ },
  ];
  for (const { name, argv, message } of usageErrors) {
    test(`${name} → UsageError`, () => {
      assert.throws(
        () => parseConfig(argv, {}),
        (err: unknown) => err instanceof UsageError && message.test(err.message),
      );
    });
  }

  for (const argv of [["--help"], ["-h"], ["--listen", "bogus", "--help"]]) {
    test(`${argv.join(" ")} → UsageError with an empty message`, () => {
      assert.throws(
        () => parseConfig(argv, {}),
        (err: unknown) => err instanceof UsageError && err.message === "",
      );
    });
  }

  test("usage() documents every flag", () => {
    for (const flag of [
      "--listen",
      "--docker-endpoint",
      "--docker-tls-verify",
      "--docker-cert-path",
      "--pod-infra-container-image",
      "--image-pull-progress-deadline",
      "--root-directory",
      "--cni-conf-dir",
      "--cni-bin-dir",
      "--pod-cidr",
      "--streaming-bind-addr",
      "--log-level",
      "--help",
    ]) {
      assert.ok(usage().includes(flag), flag);
    }
  });
});
