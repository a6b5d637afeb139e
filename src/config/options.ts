import { isIP } from "node:net";
import { DEFAULT_DOCKER_HOST } from "../docker/endpoint.ts";
import { DEFAULT_PLUGIN_TIMEOUT_MS } from "../network/cni-exec.ts";
import { parseBindAddress } from "../streaming/bind-address.ts";
import {
  bool,
  choice,
  commaList,
  duration,
  int32,
  optionalText,
  text,
  type ValueKind,
} from "./value-kinds.ts";

export interface Config {
  /** Where berth serves CRI: unix:///path (default), tcp://host:port, or fd:// from systemd. */
  listen: string;
  dockerHost: string;
  dockerTlsVerify: boolean;
  dockerCertPath: string | undefined;
  podInfraContainerImage: string;
  /** A pull with no progress for this long is cancelled. */
  imagePullProgressDeadlineMs: number;
  /** Bounds the engine calls of a CRI call whose client set no deadline. */
  runtimeRequestTimeoutMs: number;
  logLevel: string;
  /** berth's own state: checkpoints, runtime config. */
  rootDir: string;
  /**
   * cri-dockerd's state directory on a node berth replaces it on. berth never writes there;
   * it is where cri-dockerd's pods are found for adoption.
   */
  criDockerdRootDir: string;
  /** Take over the pods cri-dockerd left on the engine (refused while a cri-dockerd serves it). */
  adoptCriDockerd: boolean;
  /** libcni's cache cri-dockerd's pod attachments were made with (its --cni-cache-dir). */
  criDockerdCniCacheDir: string;
  /** cri-dockerd's CRI socket: adoption is refused while it listens. */
  criDockerdEndpoint: string;
  /** The cgroup berth moves itself into at start (cgroup v1 hierarchies and v2). */
  runtimeCgroups: string | undefined;
  networkPlugin: "cni";
  cniConfDir: string;
  cniBinDirs: string[];
  /** Where CNI results are cached; undefined: `<rootDir>/cni`. */
  cniCacheDir: string | undefined;
  /** A CNI plugin still running after this long is killed and its command failed. */
  cniPluginTimeoutMs: number;
  networkPluginMtu: number;
  hairpinMode: HairpinMode;
  ipv6DualStack: boolean;
  podCidr: string | undefined;
  /** Write berth's bridge network when the CNI config directory has no valid config. */
  defaultNetwork: boolean;
  streamingBindAddr: string;
  streamingTlsCertFile: string | undefined;
  streamingTlsKeyFile: string | undefined;
  /** A streaming connection with no traffic either way for this long is closed. */
  streamIdleTimeoutMs: number;
  /** How long a client has, once upgraded, to open a session's streams. */
  streamCreationTimeoutMs: number;
  /** How long an Exec/Attach/PortForward URL stays valid unused. */
  streamUrlTtlMs: number;
  /** A streaming connection that has not sent its upgrade request by then is dropped. */
  streamHandshakeTimeoutMs: number;
  /** Streaming sessions at once; past it a client is answered 503. */
  maxStreamSessions: number;
  /** HOST:PORT of the Prometheus metrics endpoint; undefined: no metrics server. */
  metricsBindAddress: string | undefined;
}

export type HairpinMode = "none" | "hairpin-veth" | "promiscuous-bridge";

export const DEFAULT_LISTEN = "unix:///run/berth/berth.sock";
export const DEFAULT_PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
/** What cri-dockerd's libdocker client falls back to when --runtime-request-timeout is 0. */
const DEFAULT_RUNTIME_REQUEST_TIMEOUT_MS = 120_000;

/**
 * One configuration option: a flag and the config-file key of the same name. The parser, the
 * config file loader, `berth config default|dump` and `--help` are all derived from these.
 */
export interface OptionSpec<K extends keyof Config> {
  name: string;
  /** Other names for the same flag and key. */
  aliases?: readonly string[];
  field: K;
  kind: ValueKind<Config[K]>;
  default: Config[K];
  /** A default taken from the environment: under flags and the file, over `default`. */
  env?: { help: string; read(env: NodeJS.ProcessEnv): string | undefined };
  help: string;
  /** `--no-NAME` sets a bool option to false. */
  negatable?: boolean;
  /**
   * Why berth does not honour a value given explicitly (warned at start, naming the option);
   * undefined when it does.
   */
  notHonoured?(value: Config[K]): string | undefined;
}

export type AnyOption = OptionSpec<keyof Config>;

function option<K extends keyof Config>(spec: OptionSpec<K>): AnyOption {
  return spec as unknown as AnyOption;
}

function fromEnv(name: string): NonNullable<AnyOption["env"]> {
  return {
    help: `$${name}`,
    read: (env) => (env[name] === "" ? undefined : env[name]),
  };
}

const endpointCheck = (value: string) =>
  /^(unix:\/\/\/.|tcp:\/\/[^/]+:\d+$|fd:\/\/[^/]*$)/.test(value)
    ? undefined
    : `${JSON.stringify(value)}: expected unix:///path, tcp://HOST:PORT or fd:// (systemd socket activation)`;

const absolutePath = (value: string) =>
  value.startsWith("/") ? undefined : `${JSON.stringify(value)} is not an absolute path`;

const hostPort = (value: string) => {
  try {
    parseBindAddress(value);
    return undefined;
  } catch {
    return `${JSON.stringify(value)}: expected HOST:PORT or [IPV6]:PORT`;
  }
};

const cidr = (value: string) => {
  const [address, bits, extra] = value.split("/");
  const family = isIP(address ?? "");
  const max = family === 6 ? 128 : 32;
  const length = Number(bits);
  return family !== 0 && extra === undefined && /^\d+$/.test(bits ?? "") && length <= max
    ? undefined
    : `${JSON.stringify(value)} is not a CIDR (e.g. 10.244.0.0/24)`;
};

/**
 * cri-dockerd takes a bare IP (port 0 then) and an empty value (every address, any port)
 * besides HOST:PORT.
 */
const streamingAddress: ValueKind<string> = {
  type: "string",
  parse(value) {
    if (value === "") return ":0";
    if (isIP(value) === 4) return `${value}:0`;
    if (isIP(value) === 6) return `[${value}]:0`;
    const problem = hostPort(value);
    if (problem) throw new Error(problem);
    return value;
  },
  format: (value) => value,
};

/** logrus's names (cri-dockerd's) mapped onto pino's. */
const LOG_LEVELS: Record<string, string> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  fatal: "fatal",
  panic: "fatal",
  silent: "silent",
};

const logLevel: ValueKind<string> = {
  type: "string",
  parse(value) {
    const level = LOG_LEVELS[value.toLowerCase()];
    if (!level) {
      throw new Error(`${JSON.stringify(value)} is not one of trace, debug, info, warn, error`);
    }
    return level;
  },
  format: (value) => value,
};

const networkPlugin: ValueKind<"cni"> = {
  type: "string",
  parse(value) {
    if (value === "cni") return "cni";
    throw new Error(
      `${JSON.stringify(value)} is not supported: berth networks pods with CNI only (--network-plugin=cni); kubenet and the no-op plugin are not implemented`,
    );
  },
  format: (value) => value,
};

export const OPTIONS: readonly AnyOption[] = [
  option({
    name: "container-runtime-endpoint",
    aliases: ["listen"],
    field: "listen",
    kind: text(endpointCheck),
    default: DEFAULT_LISTEN,
    help: "where berth serves CRI: unix:///path, tcp://HOST:PORT, or fd:// for the socket systemd passes (fd://NAME picks one by its FileDescriptorName)",
  }),
  option({
    name: "docker-endpoint",
    field: "dockerHost",
    kind: text((value) =>
      /^(unix:\/\/\/.|tcp:\/\/.|npipe:)/.test(value)
        ? undefined
        : `${JSON.stringify(value)}: expected unix:///path or tcp://HOST:PORT`,
    ),
    default: DEFAULT_DOCKER_HOST,
    env: fromEnv("DOCKER_HOST"),
    help: "the Docker Engine berth drives; tcp:// uses TLS as the docker CLI does",
  }),
  option({
    name: "docker-tls-verify",
    field: "dockerTlsVerify",
    kind: bool,
    default: false,
    // The docker CLI's rule: any non-empty DOCKER_TLS_VERIFY turns verification on.
    env: {
      help: "$DOCKER_TLS_VERIFY",
      read: (env) => (env.DOCKER_TLS_VERIFY ? "true" : undefined),
    },
    help: "verify a tcp:// engine's TLS certificate",
  }),
  option({
    name: "docker-cert-path",
    field: "dockerCertPath",
    kind: optionalText(absolutePath),
    default: undefined,
    env: fromEnv("DOCKER_CERT_PATH"),
    help: "directory with ca.pem, cert.pem and key.pem for a tcp:// engine",
  }),
  option({
    name: "root-directory",
    field: "rootDir",
    kind: text(absolutePath),
    default: "/var/lib/berth",
    help: "berth's own state: sandbox checkpoints, the pod CIDR, CNI results; its pods are labelled with an instance derived from it",
  }),
  option({
    name: "cri-dockerd-root-directory",
    field: "criDockerdRootDir",
    kind: text(absolutePath),
    default: "/var/lib/cri-dockerd",
    help: "cri-dockerd's state directory, whose sandbox checkpoints --adopt-cri-dockerd reads; berth only removes the checkpoint of an adopted pod it removed",
  }),
  option({
    name: "adopt-cri-dockerd",
    field: "adoptCriDockerd",
    kind: bool,
    default: false,
    help: "at start, take over the pods cri-dockerd left on this engine (those with a checkpoint in --cri-dockerd-root-directory), keeping them running; berth exits instead while a cri-dockerd still serves the engine",
  }),
  option({
    name: "cri-dockerd-cni-cache-dir",
    field: "criDockerdCniCacheDir",
    kind: text(absolutePath),
    default: "/var/lib/cni/cache",
    help: "libcni's cache of cri-dockerd's pod attachments (cri-dockerd's --cni-cache-dir): adopted pods are detached with it",
  }),
  option({
    name: "cri-dockerd-endpoint",
    field: "criDockerdEndpoint",
    kind: text(endpointCheck),
    default: "unix:///var/run/cri-dockerd.sock",
    help: "cri-dockerd's CRI socket (its --container-runtime-endpoint): --adopt-cri-dockerd is refused while something listens there",
  }),
  option({
    name: "pod-infra-container-image",
    field: "podInfraContainerImage",
    kind: text((value) => (value === "" ? "the pause image must not be empty" : undefined)),
    default: DEFAULT_PAUSE_IMAGE,
    help: "the pause image holding each pod's namespaces; reported pinned so image GC keeps it",
  }),
  option({
    name: "image-pull-progress-deadline",
    field: "imagePullProgressDeadlineMs",
    kind: duration(),
    default: 60_000,
    help: "cancel a pull that made no progress for this long",
  }),
  option({
    name: "runtime-request-timeout",
    field: "runtimeRequestTimeoutMs",
    kind: duration(DEFAULT_RUNTIME_REQUEST_TIMEOUT_MS),
    default: DEFAULT_RUNTIME_REQUEST_TIMEOUT_MS,
    help: "bound on a CRI call whose client set no deadline (pulls and streams excepted; 0 means 2m0s)",
  }),
  option({
    name: "streaming-bind-addr",
    field: "streamingBindAddr",
    kind: streamingAddress,
    default: "127.0.0.1:0",
    help: "HOST:PORT of the exec/attach/port-forward server (port 0: any free port; a bare IP takes port 0)",
  }),
  option({
    name: "streaming-tls-cert-file",
    field: "streamingTlsCertFile",
    kind: optionalText(),
    default: undefined,
    help: "serve the streaming server over TLS with this certificate (with --streaming-tls-key-file)",
  }),
  option({
    name: "streaming-tls-key-file",
    field: "streamingTlsKeyFile",
    kind: optionalText(),
    default: undefined,
    help: "the key of --streaming-tls-cert-file",
  }),
  option({
    name: "stream-idle-timeout",
    field: "streamIdleTimeoutMs",
    kind: duration(),
    default: 4 * 60 * 60 * 1000,
    help: "close a streaming connection (exec, attach, port-forward) with no traffic for this long (0: never), as the kubelet's streaming server's StreamIdleTimeout",
  }),
  option({
    name: "stream-creation-timeout",
    field: "streamCreationTimeoutMs",
    kind: duration(),
    default: 30_000,
    help: "how long an upgraded streaming client has to open its streams, as the kubelet's streaming server's StreamCreationTimeout",
  }),
  option({
    name: "stream-url-ttl",
    field: "streamUrlTtlMs",
    kind: duration(),
    default: 60_000,
    help: "how long an Exec, Attach or PortForward URL stays valid unused (each is good for one connection)",
  }),
  option({
    name: "stream-handshake-timeout",
    field: "streamHandshakeTimeoutMs",
    kind: duration(),
    default: 10_000,
    help: "drop a streaming connection that has not sent its upgrade request within this long",
  }),
  option({
    name: "max-stream-sessions",
    field: "maxStreamSessions",
    kind: int32((value) => (value < 1 ? `${value} is not a positive count` : undefined)),
    default: 1000,
    help: "streaming sessions at once; past it an upgrade is answered 503 Service Unavailable with Retry-After",
  }),
  option({
    name: "runtime-cgroups",
    field: "runtimeCgroups",
    kind: optionalText(absolutePath),
    default: undefined,
    help: "absolute name of a cgroup berth moves itself into at start, in every hierarchy (created when missing)",
    notHonoured: () =>
      "moves berth itself only: unlike cri-dockerd, berth neither moves dockerd/containerd into it nor caps its memory",
  }),
  option({
    name: "network-plugin",
    field: "networkPlugin",
    kind: networkPlugin,
    default: "cni",
    help: "the pod network plugin; berth has cni only",
  }),
  option({
    name: "cni-conf-dir",
    field: "cniConfDir",
    kind: text(absolutePath),
    default: "/etc/cni/net.d",
    help: "CNI network configs; Status reports NetworkReady from it",
  }),
  option({
    name: "cni-bin-dir",
    field: "cniBinDirs",
    kind: commaList,
    default: ["/opt/cni/bin", "/usr/lib/cni"],
    help: "comma-separated directories searched for CNI plugins",
  }),
  option({
    name: "cni-cache-dir",
    field: "cniCacheDir",
    kind: optionalText(absolutePath),
    default: undefined,
    help: "where CNI results are cached for teardown (empty: <root-directory>/cni)",
  }),
  option({
    name: "cni-plugin-timeout",
    field: "cniPluginTimeoutMs",
    kind: duration(DEFAULT_PLUGIN_TIMEOUT_MS),
    default: DEFAULT_PLUGIN_TIMEOUT_MS,
    help: "kill a CNI plugin that has not answered one command within this long (0 means 1m0s)",
  }),
  option({
    name: "network-plugin-mtu",
    field: "networkPluginMtu",
    kind: int32((value) => (value < 0 ? `${value} is negative` : undefined)),
    default: 0,
    help: "MTU override for the network plugin (0: the CNI config's own)",
    notHonoured: (value) =>
      value === 0
        ? undefined
        : "not applied: with CNI the network config sets the MTU (put `mtu` in the bridge plugin's config), as cri-dockerd's CNI plugin also ignores it",
  }),
  option({
    name: "hairpin-mode",
    field: "hairpinMode",
    kind: choice<HairpinMode>(["none", "hairpin-veth", "promiscuous-bridge"]),
    default: "none",
    help: "hairpin mode; with CNI the network config's hairpinMode decides",
    notHonoured: (value) =>
      value === "none"
        ? undefined
        : "not applied: with CNI the network config's `hairpinMode` decides (berth's default network turns it on)",
  }),
  option({
    name: "ipv6-dual-stack",
    field: "ipv6DualStack",
    kind: bool,
    default: false,
    help: "dual-stack pods; berth reports every IP the CNI result holds either way",
    notHonoured: (value) =>
      value
        ? undefined
        : "has no effect: berth reports every IP the CNI result holds, IPv6 included",
  }),
  option({
    name: "pod-cidr",
    field: "podCidr",
    kind: optionalText(cidr),
    default: undefined,
    help: "pod subnet for berth's default CNI network until the kubelet sends one",
  }),
  option({
    name: "default-network",
    field: "defaultNetwork",
    kind: bool,
    default: true,
    negatable: true,
    help: "write berth's bridge network (99-berth.conflist) into an empty CNI config dir; --no-default-network turns it off",
  }),
  option({
    name: "metrics-bind-address",
    field: "metricsBindAddress",
    kind: optionalText(hostPort),
    default: undefined,
    help: "HOST:PORT to serve Prometheus metrics on (empty: no metrics server)",
  }),
  option({
    name: "log-level",
    field: "logLevel",
    kind: logLevel,
    default: "info",
    env: fromEnv("BERTH_LOG_LEVEL"),
    help: "trace, debug, info, warn or error (panic, fatal, warning as cri-dockerd takes them); JSON logs on stderr",
  }),
];

/** Flags of the command line only: no config-file key. */
export interface CliFlag {
  name: string;
  short?: string;
  type: "bool" | "string";
  help: string;
}

export const DEFAULT_CONFIG_FILE = "/etc/berth/config.yaml";

export const CLI_FLAGS: readonly CliFlag[] = [
  {
    name: "config",
    type: "string",
    help: `config file, one key per flag (default ${DEFAULT_CONFIG_FILE} when it exists)`,
  },
  { name: "version", type: "bool", help: "print berth's version and exit" },
  { name: "buildinfo", type: "bool", help: "print berth's build information and exit" },
  { name: "help", short: "h", type: "bool", help: "print this help and exit" },
];

/**
 * Checks across options, run once every layer is applied; each answers the problem in words
 * naming the options involved.
 */
export const CROSS_CHECKS: ReadonlyArray<(config: Config) => string | undefined> = [
  (config) =>
    (config.streamingTlsCertFile === undefined) !== (config.streamingTlsKeyFile === undefined)
      ? "streaming-tls-cert-file and streaming-tls-key-file go together"
      : undefined,
];
